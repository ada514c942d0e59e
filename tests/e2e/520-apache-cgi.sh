#!/bin/bash
# Apache 2.4 running the programs as plain CGI (mod_cgid under mpm_event),
# two ways at once: the vhost of apache-conf/difycgi-cgi.conf.in
# (ScriptAliasMatch, for a server you run) and the shared-hosting
# .htaccess of apache-conf/htaccess.in (AddHandler cgi-script + rewrite
# rules, in a document root with AllowOverride All).  One process per
# request; the stop request reaches the stream through the database.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../deploy-lib.sh"
plan 42
deploy_setup

# the shared host: a document root the user owns, the programs inside it
H="$T/htdocs"
mkdir -p "$H/difycgi"
cp "$T"/cgi-bin/*.fcgi "$H/difycgi/"
gen apache-conf/htaccess.in "$H/.htaccess"
chmod 644 "$H/.htaccess"
[ "$(id -u)" = 0 ] && chown -R "$RUN_AS:$RUN_GROUP" "$H"
PORT2=$(free_port)
APACHE_EXTRA="Listen 127.0.0.1:$PORT2
<VirtualHost 127.0.0.1:$PORT2>
    ServerName 127.0.0.1
    DocumentRoot \"$H\"
    <Directory \"$H\">
        AllowOverride All
        Options SymLinksIfOwnerMatch
        Require all granted
    </Directory>
</VirtualHost>"

L="Apache mod_cgi vhost"
apache_start cgi apache-conf/difycgi-cgi.conf.in
BASE1=$BASE
deploy_checks "$L"

BASE="http://127.0.0.1:$PORT2"
deploy_checks "Apache .htaccess (shared hosting)"
req GET /difycgi/app.fcgi ""
check "Apache .htaccess (shared hosting): the programs cannot be called by their own path" \
    is_status 403

BASE=$BASE1
deploy_stop_all "Apache CGI"
finish
