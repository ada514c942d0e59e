# tests/lib.sh: the end-to-end harness, sourced by tests/e2e/*.sh.
# Starts lighttpd with the real programs on a free loopback port and a
# fresh SQLite file, speaks HTTP with curl, and stops everything on exit.
# With DIFYCGI_TEST_BACKEND=postgresql (tests/run.sh's postgresql pass,
# which gives PGHOST and PGPORT of its cluster) the programs get a fresh
# PostgreSQL database of the script's own instead (DIFYCGI_DATABASE_URL,
# with the DIFYCGI_SECRET_KEY they then require), dropped on exit.  sql,
# the db_* helpers and the JSON ones (jx, jn, jlen) work on either.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
BUILD_DIR="$ROOT/$BUILD"
ADMIN="$BUILD_DIR/dify-admin"
T=$(mktemp -d /tmp/difycgi-test.XXXXXX)
export DIFYCGI_DB="$T/dify.db"
export DIFYCGI_DATA_DIR="$T"
# sanitizer reports go to files in $T, where cleanup looks for them: ours
# come last, so they win over any options the caller gave
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:abort_on_error=0:fast_unwind_on_malloc=0:log_path=$T/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$T/ubsan"
PIDS=""
FAILS=0

# db_backend: sqlite or postgresql, the store the programs use
DB_BACKEND=${DIFYCGI_TEST_BACKEND:-sqlite}
db_backend() { echo "$DB_BACKEND"; }
PG_DB=""		# the script's database, once created
case $DB_BACKEND in
sqlite) ;;
postgresql)
	if [ -z "${PGHOST:-}" ] || [ -z "${PGPORT:-}" ]; then
		echo "Bail out! DIFYCGI_TEST_BACKEND=postgresql needs PGHOST and PGPORT (tests/run.sh starts a cluster)"
		exit 1
	fi
	# kept for psql, but out of the programs' environment: they must
	# find their database by DIFYCGI_DATABASE_URL alone
	_h=$PGHOST _p=$PGPORT
	unset PGHOST PGPORT
	PGHOST=$_h PGPORT=$_p
	PG_NAME="difycgi_${T##*.}"
	export DIFYCGI_DATABASE_URL="postgresql:///$PG_NAME?host=$PGHOST&port=$PGPORT&user=postgres"
	export DIFYCGI_SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr -dc A-Za-z0-9 | head -c 40)
	;;
*)
	echo "Bail out! DIFYCGI_TEST_BACKEND is sqlite or postgresql, not '$DB_BACKEND'"
	exit 1
	;;
esac

# descendants PID: PID and every process below it
descendants() {
	echo "$1"
	for _c in $(pgrep -P "$1"); do descendants "$_c"; done
}

# gone PID: the process has exited (a zombie has exited too)
gone() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	''|Z*) return 0 ;;
	esac
	return 1
}

# test_programs: every process this test started and all below them, and
# the programs running from $BUILD_DIR or $T with this test's data
# directory (spawn-fcgi daemons have left the tree)
test_programs() {
	for _p in $PIDS; do descendants "$_p"; done
	for _e in /proc/[0-9]*/exe; do
		_x=$(readlink "$_e" 2>/dev/null) || continue
		case $_x in "$BUILD_DIR"/*|"$T"/*) ;; *) continue ;; esac
		_d=${_e%/exe}
		grep -qszFx "DIFYCGI_DATA_DIR=$T" "$_d/environ" && echo "${_d#/proc/}"
	done
}

# sanitizer_reports: print the reports the programs wrote and fail when
# there is any: ASan's files (log_path=$T/asan: "asan.PID"), UBSan's when
# it runs alone ("ubsan.PID"), and the programs' stderr in any *.log under
# $T, where gcc's UBSan writes when it runs inside ASan (it ignores
# log_path then) and where lighttpd puts the programs' stderr
SAN_PATTERN='ERROR: (Address|Leak)Sanitizer|runtime error: '
sanitizer_reports() {
	_n=0
	for _f in "$T"/asan.* "$T"/ubsan.* $(grep -rlsE --include='*.log' \
	    "$SAN_PATTERN" "$T"); do
		[ -e "$_f" ] || continue
		_n=$((_n + 1))
		echo "#   --- ${_f#$T/}"
		grep -m1 -A24 -E "$SAN_PATTERN|^=+$" "$_f" | sed 's/^/#   /'
	done
	[ "$_n" -eq 0 ]
}

# On exit: stop what the test started, then wait (at most CLEANUP_WAIT
# seconds, 30 by default) for every
# program, also those that exit after their server (lighttpd's FastCGI
# children), since leak reports are written at exit; then any sanitizer
# report fails the script.
cleanup() {
	_rc=$?
	_progs=$(test_programs | sort -u)
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	_left=""
	_max=$((${CLEANUP_WAIT:-30} * 20))
	for p in $_progs; do
		_i=0
		while ! gone "$p" && [ $_i -lt $_max ]; do
			sleep 0.05
			_i=$((_i + 1))
		done
		gone "$p" || _left="$_left $p"
	done
	if [ -n "$_left" ]; then
		_rc=1
		echo "not ok - harness: every program of the test exits once it is stopped"
		ps -o pid=,args= -p "${_left# }" | sed 's/^/#   /'
		kill -KILL $_left 2>/dev/null
	fi
	if ! sanitizer_reports > "$T/san.report"; then
		_rc=1
		echo "not ok - harness: sanitizers report nothing"
		cat "$T/san.report"
	fi
	# after the programs: none holds a connection to it any more
	if [ -n "$PG_DB" ] && [ -z "${KEEP:-}" ] && ! dropdb --force \
	    -h "$PGHOST" -p "$PGPORT" -U postgres "$PG_DB" > "$T/dropdb.log" 2>&1; then
		_rc=1
		echo "not ok - harness: the test's database $PG_DB is dropped"
		sed 's/^/#   /' "$T/dropdb.log"
	fi
	# a script's own servers that must outlive the programs (CLEANUP_AFTER)
	[ -z "${CLEANUP_AFTER:-}" ] || eval "$CLEANUP_AFTER"
	[ -n "${KEEP:-}" ] || rm -rf "$T"
	exit $_rc
}
trap cleanup EXIT
# a timeout (tests/run.sh) or ^C still runs cleanup
trap 'exit 143' TERM
trap 'exit 130' INT

if [ "$DB_BACKEND" = postgresql ]; then
	if ! createdb -h "$PGHOST" -p "$PGPORT" -U postgres "$PG_NAME" > "$T/createdb.log" 2>&1; then
		echo "Bail out! cannot create the test's database $PG_NAME"
		sed 's/^/#   /' "$T/createdb.log"
		exit 1
	fi
	PG_DB=$PG_NAME
fi

# Every curl of the test gives up after CURL_MAX_TIME seconds (a minute by
# default) unless it says otherwise.
export CURL_HOME="$T"
echo "max-time = ${CURL_MAX_TIME:-60}" > "$T/.curlrc"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Poll until a URL answers (any HTTP status), at most ~10 s.
wait_http() {
	i=0
	while [ $i -lt 200 ]; do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.05
		i=$((i + 1))
	done
	echo "# $1 never answered"
	return 1
}

# start_server: lighttpd on a free port, BASE=http://127.0.0.1:PORT
start_server() {
	"$ADMIN" init >/dev/null || exit 1
	PORT=$(free_port)
	mkdir -p "$T/srv"
	sh "$ROOT/tools/gen-lighttpd.sh" "$PORT" "$BUILD_DIR" "$T/srv" > "$T/lighttpd.conf"
	lighttpd -D -f "$T/lighttpd.conf" &
	LIGHTTPD_PID=$!
	PIDS="$PIDS $LIGHTTPD_PID"
	BASE="http://127.0.0.1:$PORT"
	wait_http "$BASE/v1/" || exit 1
}

stop_server() {
	kill "$LIGHTTPD_PID" 2>/dev/null
	wait "$LIGHTTPD_PID" 2>/dev/null
}

# new_app MODE [dify-admin app create options]: prints "APP_ID KEY"
new_app() {
	mode=$1; shift
	id=$("$ADMIN" app create --mode "$mode" --name "test $mode" "$@") || return 1
	key=$("$ADMIN" key create "$id") || return 1
	echo "$id $key"
}

# req METHOD PATH KEY [JSON_BODY] -> $STATUS, $BODY, headers in $T/headers
req() {
	m=$1 p=$2 k=$3
	shift 3
	set -- -s -o "$T/body" -D "$T/headers" -w '%{http_code}' -X "$m" "$@"
	[ -n "$k" ] && set -- "$@" -H "Authorization: Bearer $k"
	STATUS=$(curl "$@" ${JSON+-H "Content-Type: application/json" --data-binary "$JSON"} "$BASE$p")
	BODY=$(cat "$T/body")
}

# json PATH_BODY CURL_ARGS: as req but with a JSON body
jreq() {
	m=$1 p=$2 k=$3 b=$4
	shift 4
	JSON=$b req "$m" "$p" "$k" "$@"
}

# plan N: this script runs exactly N checks.  tests/run.sh fails a script
# whose "1..N" line is missing or whose count of checks differs, so an
# early exit is a failure, not a shorter success.
plan() {
	echo "1..$1"
}

ok() {
	echo "ok - $1"
}

not_ok() {
	echo "not ok - $1"
	FAILS=$((FAILS + 1))
}

# check NAME COMMAND...: ok when the command succeeds
check() {
	name=$1; shift
	if "$@"; then ok "$name"; else
		not_ok "$name"
		echo "#   status=${STATUS:-} body=$(printf '%s' "${BODY:-}" | head -c 600)"
	fi
}

# is_status N: the last response had status N
is_status() { [ "$STATUS" = "$1" ]; }

# body_is JQ_EXPR: the expression is true on the last body
# (an empty body is no JSON: jq -e would exit 0 on it)
body_is() { [ -n "$BODY" ] && printf '%s' "$BODY" | jq -e "$1" >/dev/null 2>&1; }

# expect_error STATUS CODE MESSAGE: exact Dify error body
expect_error() {
	[ "$STATUS" = "$1" ] && [ -n "$BODY" ] && printf '%s' "$BODY" | jq -e --arg c "$2" \
	    --arg m "$3" --argjson s "$1" \
	    '.code == $c and .message == $m and .status == $s and (keys | length) == 3' >/dev/null
}

finish() {
	[ "$FAILS" -eq 0 ]
}

# start_fake_upstream: the fake OpenAI-compatible provider "fake"; call it
# before start_server so the programs see DIFYCGI_PROVIDER_FAKE_BASE_URL.
start_fake_upstream() {
	python3 "$ROOT/tests/fake-upstream/fake_upstream.py" \
	    --port-file "$T/fake.port" --log "$T/fake.log" "$@" \
	    > "$T/fake.out" 2>&1 &
	PIDS="$PIDS $!"
	i=0
	while [ ! -s "$T/fake.port" ] && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	FAKE_PORT=$(cat "$T/fake.port")
	export DIFYCGI_PROVIDER_FAKE_BASE_URL="http://127.0.0.1:$FAKE_PORT/v1"
}

# sse PATH KEY JSON [sse_client options]: stream into $T/sse (one line per
# frame: "seconds payload"); the status line goes to $T/sse.status
sse() {
	p=$1 k=$2 b=$3
	shift 3
	python3 "$ROOT/tests/tools/sse_client.py" "$BASE$p" "$k" "$b" "$@" \
	    > "$T/sse" 2> "$T/sse.status"
}

# events: the event names of the last stream, one per line
events() {
	cut -d' ' -f2- "$T/sse" | while read -r l; do
		if [ "$l" = ping ]; then echo ping; else
			printf '%s' "$l" | jq -r .event; fi
	done
}

# last_event JQ: evaluate on the last data frame
last_event() {
	_l=$(tail -1 "$T/sse" | cut -d' ' -f2-)
	[ -n "$_l" ] && printf '%s' "$_l" | jq -e "$1" >/dev/null 2>&1
}

# sql QUERY: run a query (or several, ";"-separated) on the test's
# database; the rows print as sqlite3 prints them, values separated by
# "|", NULL as nothing, no header.  SQL that runs on both: a comparison
# is a boolean in PostgreSQL (printed "t"), so CAST(... AS INTEGER) it.
sql() {
	if [ "$DB_BACKEND" = postgresql ]; then
		PGCLIENTENCODING=UTF8 psql -X -q -A -t -F '|' -v ON_ERROR_STOP=1 \
		    -h "$PGHOST" -p "$PGPORT" -U postgres -d "$PG_DB" -c "$1"
	else
		sqlite3 "$DIFYCGI_DB" "$1"
	fi
}

# db_dump: the whole database as text, for grep and for comparing two
# states.  PostgreSQL's lines are sorted: an UPDATE moves a row even when
# no value changes; sequence positions are left out: a rolled-back
# INSERT moves them on, where SQLite's rowids show nothing.
db_dump() {
	if [ "$DB_BACKEND" = postgresql ]; then
		pg_dump --inserts --no-owner --no-privileges -h "$PGHOST" \
		    -p "$PGPORT" -U postgres "$PG_DB" |
		    grep -v -e 'pg_catalog.setval(' -e '^\\\(un\)\{0,1\}restrict ' |
		    sed 's/^INSERT INTO public\./INSERT INTO /' | LC_ALL=C sort
	else
		sqlite3 "$DIFYCGI_DB" .dump
	fi
}

# db_schema: the schema as text, and on PostgreSQL the migrations table's
# rows (SQLite keeps its version in the header, PRAGMA user_version)
db_schema() {
	if [ "$DB_BACKEND" = postgresql ]; then
		pg_dump --schema-only --no-owner --no-privileges -h "$PGHOST" \
		    -p "$PGPORT" -U postgres "$PG_DB" |
		    grep -v '^\\\(un\)\{0,1\}restrict '
		sql "SELECT * FROM schema_migrations ORDER BY version"
	else
		sqlite3 "$DIFYCGI_DB" .schema
		sql "PRAGMA user_version"
	fi
}

# db_files: the files the database's data is written to, for grepping
# them: SQLite's file and its WAL; the cluster's files of this database
# and its WAL (tests/pg.sh keeps the cluster in $PGHOST/data), after a
# checkpoint has written out what was only in memory
db_files() {
	if [ "$DB_BACKEND" = postgresql ]; then
		sql "CHECKPOINT"
		echo "$PGHOST/data/base/$(sql "SELECT oid FROM pg_database WHERE datname = current_database()")"
		echo "$PGHOST/data/pg_wal"
	else
		echo "$DIFYCGI_DB"
		echo "$DIFYCGI_DB-wal"
	fi
}

# db_integrity: prints "ok" when the database is sound: SQLite's
# integrity_check; on PostgreSQL amcheck's check of every B-tree index
# and of its table against it (the extension is there only meanwhile,
# in a schema of its own: a dump taken later does not show it)
db_integrity() {
	if [ "$DB_BACKEND" = postgresql ]; then
		sql "CREATE SCHEMA IF NOT EXISTS harness;
		    CREATE EXTENSION IF NOT EXISTS amcheck SCHEMA harness" &&
		sql "SELECT harness.bt_index_check(c.oid, true)
		    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		    JOIN pg_namespace n ON n.oid = c.relnamespace
		    JOIN pg_am a ON a.oid = c.relam
		    WHERE n.nspname = 'public' AND a.amname = 'btree'" > "$T/amcheck" 2>&1
		_ic=$?
		sql "SET client_min_messages = warning; DROP SCHEMA IF EXISTS harness CASCADE"
		if [ $_ic -eq 0 ] && [ -s "$T/amcheck" ] && ! grep -q . "$T/amcheck"; then
			echo ok
		else
			cat "$T/amcheck"
		fi
	else
		sql "PRAGMA integrity_check"
	fi
}

# jx COLUMN PATH: SQL for the value at SQLite JSON path PATH ("$.a[0].b",
# '$."x.y"') in the JSON text of COLUMN: a string unquoted, a number,
# object or array as its text, NULL when absent (a JSON boolean differs:
# 1 in SQLite, true in PostgreSQL)
jx() {
	if [ "$DB_BACKEND" = postgresql ]; then
		echo "(CAST($1 AS json) #>> '{$(json_path_elems "$2")}')"
	else
		echo "json_extract($1, '$2')"
	fi
}

# jn COLUMN PATH: as jx, for a number (to compare with one)
jn() {
	if [ "$DB_BACKEND" = postgresql ]; then
		echo "CAST($(jx "$1" "$2") AS double precision)"
	else
		jx "$1" "$2"
	fi
}

# jlen COLUMN [PATH]: SQL for the length of the JSON array there
jlen() {
	if [ "$DB_BACKEND" = postgresql ]; then
		echo "json_array_length(CAST($1 AS json) #> '{$(json_path_elems "${2:-\$}")}')"
	else
		echo "json_array_length($1, '${2:-\$}')"
	fi
}

# json_path_elems PATH: "$.a[0]."x.y"" -> a,0,"x.y" (a PostgreSQL text[])
json_path_elems() {
	printf '%s\n' "${1#\$}" | sed -E 's/\[([0-9]+)\]/.\1/g; s/^\.//' |
	    awk '{
		n = 0; out = ""
		while (length($0) > 0) {
			if (substr($0, 1, 1) == "\"") {
				e = index(substr($0, 2), "\"")
				k = substr($0, 1, e + 1); $0 = substr($0, e + 3)
			} else {
				e = index($0, ".")
				if (e == 0) { k = $0; $0 = "" }
				else { k = substr($0, 1, e - 1); $0 = substr($0, e + 1) }
			}
			out = out (n++ ? "," : "") k
		}
		print out
	    }'
}

# serve_py SCRIPT: a test server of the script's own (a Python file that
# writes its port to the file named by its first argument); TS its URL
serve_py() {
	python3 "$1" "$T/ts.port" &
	PIDS="$PIDS $!"
	wait_for 10 test -s "$T/ts.port" || return 1
	TS="http://127.0.0.1:$(cat "$T/ts.port")"
}

# sign FILE_ID TIMESTAMP NONCE: a preview link's signature, as an
# independent HMAC of DIFYCGI_SECRET_KEY makes it
sign() {
	python3 -c 'import base64,hashlib,hmac,sys
m = ("file-preview|%s|%s|%s" % tuple(sys.argv[2:5])).encode()
print(base64.urlsafe_b64encode(hmac.new(sys.argv[1].encode(), m, hashlib.sha256).digest()).decode())' \
	    "$DIFYCGI_SECRET_KEY" "$@"
}

# events_are "a b c": the last stream's event names, repeats folded
events_are() { [ "$(events | uniq | tr '\n' ' ')" = "$1 " ]; }

# The Dify DSL fixtures (real exports; tests/fixtures/dsl/MANIFEST.md says
# where each comes from); DIFYCGI_FIXTURES points elsewhere.
FIXTURES=${DIFYCGI_FIXTURES:-$ROOT/tests/fixtures/dsl}

# wait_for SECONDS COMMAND...: run the command every 50 ms until it
# succeeds, at most SECONDS (a fraction is fine) of wall-clock time; 1
# when the deadline passed first.  For waiting on an event (a row, a log
# line, a file) instead of sleeping for a guessed time.
wait_for() {
	_wf_end=$(awk -v s="$1" -v n="$(date +%s%N)" 'BEGIN { printf "%.0f", n + s * 1e9 }')
	shift
	while ! "$@"; do
		[ "$(date +%s%N)" -lt "$_wf_end" ] || return 1
		sleep 0.05
	done
}
