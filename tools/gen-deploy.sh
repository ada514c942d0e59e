#!/bin/sh
# Fill a deployment template (apache-conf/*.in, conf/*.in) and print it.
# `make install` uses it with the install paths; the tests (tests/e2e/5*.sh)
# use it with paths under their temporary directory, so that what is tested
# is what ships.
#
#   gen-deploy.sh [--plain] [--only-built DIR] [NAME=VALUE ...] TEMPLATE
#
# @NAME@ in the template is replaced by NAME's value; a placeholder left
# unfilled is an error.  Names and defaults: PREFIX (/usr/local), BINDIR,
# SBINDIR, CGIDIR (PREFIX/lib/difycgi/cgi-bin), SHAREDIR, SYSCONFDIR (/etc
# for PREFIX=/usr, else PREFIX/etc), CONFDIR (SYSCONFDIR/difycgi), CONFIG
# and SPAWN_CONF (in CONFDIR), RUNDIR (/run/difycgi), DATA_DIR
# (/var/lib/difycgi), LIGHTTPD_SOCKDIR (/run/lighttpd), LIGHTTPD_LOGDIR,
# SERVER_NAME (api.example.com), TLS_CERT and TLS_KEY (Let's Encrypt's
# paths for SERVER_NAME), LISTEN (127.0.0.1:8080, the plain address),
# HTTP_PORT (80), HTTPS_PORT (443), WEB_USER and WEB_GROUP (www-data),
# RUN_USER and RUN_GROUP (difycgi).  Markers, each alone on a line:
#   # tls:begin ... # tls:end     TLS lines; --plain drops them
#   # plain:begin ... # plain:end commented-out plain-HTTP lines; --plain
#                                 uncomments them, otherwise they stay as a hint
#   # family: NAME                with --only-built DIR, the block from here
#                                 to the next blank line is dropped unless
#                                 DIR/NAME.fcgi is executable (partial builds)
# The marker lines themselves are dropped.
set -eu

usage() {
	sed -n '2,/^set -eu/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

plain=0 built=""
while [ $# -gt 1 ]; do
	case $1 in
	--plain) plain=1 ;;
	--only-built) built=$2; shift ;;
	[A-Z]*=*)
		case ${1%%=*} in *[!A-Z_]*) usage ;; esac
		eval "GD_${1%%=*}=\${1#*=}" ;;
	*) usage ;;
	esac
	shift
done
if [ $# -ne 1 ] || [ ! -f "$1" ]; then usage; fi
tpl=$1

# defaults, in dependency order
: "${GD_PREFIX:=/usr/local}"
if [ -z "${GD_SYSCONFDIR:-}" ]; then
	case $GD_PREFIX in
	/usr) GD_SYSCONFDIR=/etc ;;
	*) GD_SYSCONFDIR=$GD_PREFIX/etc ;;
	esac
fi
: "${GD_BINDIR:=$GD_PREFIX/bin}"
: "${GD_SBINDIR:=$GD_PREFIX/sbin}"
: "${GD_CGIDIR:=$GD_PREFIX/lib/difycgi/cgi-bin}"
: "${GD_SHAREDIR:=$GD_PREFIX/share/difycgi}"
: "${GD_CONFDIR:=$GD_SYSCONFDIR/difycgi}"
: "${GD_CONFIG:=$GD_CONFDIR/difycgi.conf}"
: "${GD_SPAWN_CONF:=$GD_CONFDIR/spawn.conf}"
: "${GD_RUNDIR:=/run/difycgi}"
: "${GD_DATA_DIR:=/var/lib/difycgi}"
: "${GD_LIGHTTPD_SOCKDIR:=/run/lighttpd}"
: "${GD_LIGHTTPD_LOGDIR:=/var/log/lighttpd}"
: "${GD_SERVER_NAME:=api.example.com}"
: "${GD_TLS_CERT:=/etc/letsencrypt/live/$GD_SERVER_NAME/fullchain.pem}"
: "${GD_TLS_KEY:=/etc/letsencrypt/live/$GD_SERVER_NAME/privkey.pem}"
: "${GD_LISTEN:=127.0.0.1:8080}"
: "${GD_HTTP_PORT:=80}"
: "${GD_HTTPS_PORT:=443}"
: "${GD_WEB_USER:=www-data}"
: "${GD_WEB_GROUP:=$GD_WEB_USER}"
: "${GD_RUN_USER:=difycgi}"
: "${GD_RUN_GROUP:=$GD_RUN_USER}"

# hand every GD_* to awk through the environment: no quoting to get wrong
names=$(set | sed -n 's/^GD_\([A-Z_]*\)=.*/\1/p' | tr '\n' ' ')
for n in $names; do export "GD_$n"; done
export GD_NAMES="$names" GD_PLAIN=$plain GD_BUILT="$built"

awk '
function built(fam) {
	if (ENVIRON["GD_BUILT"] == "") return 1
	return system("test -x \"" ENVIRON["GD_BUILT"] "/" fam ".fcgi\"") == 0
}
function fill(s,    i, n, k, out, p, name) {
	n = split(ENVIRON["GD_NAMES"], k, " ")
	for (i = 1; i <= n; i++) {
		name = "@" k[i] "@"
		out = ""
		while ((p = index(s, name)) > 0) {
			out = out substr(s, 1, p - 1) ENVIRON["GD_" k[i]]
			s = substr(s, p + length(name))
		}
		s = out s
	}
	return s
}
BEGIN { plain = ENVIRON["GD_PLAIN"] + 0; skip = 0; tls = 0; pl = 0; bad = 0 }
skip && /^[ \t]*$/ { skip = 0; next }
skip { next }
/^[ \t]*# family: / {
	fam = $0; sub(/^[ \t]*# family: */, "", fam); sub(/[ \t].*/, "", fam)
	if (!built(fam)) skip = 1
	next
}
/^[ \t]*# tls:begin/ { tls = 1; next }
/^[ \t]*# tls:end/ { tls = 0; next }
/^[ \t]*# plain:begin/ { pl = 1; next }
/^[ \t]*# plain:end/ { pl = 0; next }
tls && plain { next }
{
	line = $0
	if (pl && plain) sub(/#/, "", line)
	line = fill(line)
	if (match(line, /@[A-Z][A-Z_]*@/)) {
		printf "%s:%d: unknown placeholder %s\n", FILENAME, NR,
		    substr(line, RSTART, RLENGTH) > "/dev/stderr"
		bad = 1
	}
	print line
}
END { if (tls || pl) { print FILENAME ": unterminated marker block" > "/dev/stderr"; bad = 1 }
      exit bad }
' "$tpl"
