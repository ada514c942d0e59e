#!/bin/bash
# Apache 2.4 + mod_fcgid with apache-conf/difycgi-fcgid.conf.in: Apache
# spawns the programs (one request per process, DIFYCGI_THREADS=1), passes
# Authorization, streams unbuffered, and takes them down when it stops.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../deploy-lib.sh"
plan 26
L="Apache mod_fcgid"
deploy_setup
apache_start fcgid apache-conf/difycgi-fcgid.conf.in
deploy_checks "$L"
check "$L: Apache spawned app.fcgi as its own user, with DIFYCGI_THREADS=1" \
    eval 'p=$(pgrep -u "$RUN_AS" -f "^$T/cgi-bin/app.fcgi" | head -1) && [ -n "$p" ] &&
	tr "\0" "\n" < /proc/$p/environ | grep -qx DIFYCGI_THREADS=1'
if [ $HAVE_CHAT = 1 ]; then
	check "$L: the stop request was served by a second chat.fcgi process" \
	    eval '[ "$(pgrep -c -f "^$T/cgi-bin/chat.fcgi")" -ge 2 ]'
fi
check "$L: the FastCGI sockets are the web server's user's alone" \
    sockets_private "$T/apache/fcgid"
deploy_stop_all "$L"
finish
