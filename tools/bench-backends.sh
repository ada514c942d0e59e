# tools/bench-backends.sh: sourced by bench.sh and bench-growth.sh (bash),
# which compare the storage backends of BACKENDS side by side.  Makes T
# (a temporary directory, BACKEND's data in $T/BACKEND), PIDS (what the
# cleanup on exit kills) and, when BACKENDS names postgresql, a throwaway
# cluster in $T/pg (tests/pg.sh) with a database "dify" at PGURL.
BACKENDS=${BACKENDS:-sqlite postgresql}
for b in $BACKENDS; do
	case $b in
	sqlite|postgresql) ;;
	*) echo "$0: no backend '$b' (sqlite, postgresql)" >&2; exit 2 ;;
	esac
done
T=${0##*/}
T=$(mktemp -d "/tmp/difycgi-${T%.sh}.XXXXXX")
# tests/pg.sh's cluster in $T/pg runs as postgres when we are root
chmod 711 "$T"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ ! -d "$T/pg" ] || sh tests/pg.sh stop "$T/pg"
	rm -rf "$T"
}
trap cleanup EXIT
SECRET=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
PGURL=""
case " $BACKENDS " in *" postgresql "*)
	eval "$(sh tests/pg.sh start "$T/pg")"
	[ -n "${PGHOST:-}" ] || exit 1
	createdb -h "$PGHOST" -p "$PGPORT" -U postgres dify
	PGURL="postgresql://postgres@/dify?host=$PGHOST&port=$PGPORT" ;;
esac
# BOTH: set when BACKENDS holds the two, for the ratio column
BOTH=""
case " $BACKENDS " in *" sqlite "*)
	case " $BACKENDS " in *" postgresql "*) BOTH=1 ;; esac ;;
esac

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# benv BACKEND [exec] COMMAND...: run COMMAND with BACKEND's storage
# settings; with exec, in place of the shell (so that a background
# `benv B exec lighttpd` has lighttpd's pid in $!)
benv() {
	local b=$1 how=""
	shift
	[ "$1" != exec ] || { how=exec; shift; }
	case $b in
	sqlite)
		set -- env -u DIFYCGI_DATABASE_URL DIFYCGI_DB="$T/$b/dify.db" \
		    DIFYCGI_DATA_DIR="$T/$b" "$@" ;;
	postgresql)
		set -- env DIFYCGI_DATABASE_URL="$PGURL" DIFYCGI_SECRET_KEY="$SECRET" \
		    DIFYCGI_DATA_DIR="$T/$b" "$@" ;;
	esac
	$how "$@"
}

# sql BACKEND STATEMENTS: run them on BACKEND's database, print the rows
# (one a line, columns |-separated)
sql() {
	case $1 in
	sqlite)	sqlite3 "$T/$1/dify.db" "$2" ;;
	postgresql)
		psql -X -q -At -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" \
		    -U postgres -d dify -c "$2" ;;
	esac
}

# lighttpd_up BACKEND CONF URL: start BACKEND's lighttpd, wait until URL
# answers
lighttpd_up() {
	benv "$1" exec lighttpd -D -f "$2" &
	PIDS="$PIDS $!"
	until curl -s -o /dev/null "$3"; do
		kill -0 $! 2>/dev/null || {
			echo "$0: $1: lighttpd did not start" >&2
			exit 1
		}
		sleep 0.05
	done
}

# heading FIRST WIDTH: a table's top line: after FIRST blank columns,
# each backend's name centred in dashes over the WIDTH of its group
heading() {
	local b
	printf "%-${1}s" ""
	for b in $BACKENDS; do
		printf '  %s' "$(awk -v n=" $b " -v w="$2" 'BEGIN {
		    l = int((w - length(n)) / 2); r = w - length(n) - l; s = ""
		    for (i = 0; i < l; i++) s = s "-"
		    s = s n
		    for (i = 0; i < r; i++) s = s "-"
		    print s }')"
	done
	echo
}
