#!/bin/bash
# Cost growth, per storage backend of BACKENDS side by side: latency of
# GET /v1/messages as one conversation grows to 10,000 messages, and of
# GET /v1/conversations as one end user of an app grows to 100,000
# conversations (first page and a page deep in, by cursor).  Each backend
# has its own lighttpd, data dir and database (tools/bench-backends.sh);
# the first message comes through the API (fake upstream), the rest are
# written straight into the database, the same rows on both: with the
# sqlite3 CLI (a recursive CTE), with psql (generate_series; rowid is the
# identity column's).  On PostgreSQL each bulk write is followed by
# ANALYZE, as autovacuum would within a minute: without it the programs'
# connections keep the plans they made when the table held a row (the
# newest page then reads every row of the user through the other index
# and sorts them: 47 ms at 100,000 conversations).  Each figure is the
# median of 30 requests through lighttpd, measured with curl.
#   BACKENDS ("sqlite postgresql")
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
. tools/bench-backends.sh

python3 tests/fake-upstream/fake_upstream.py --port-file "$T/fake.port" >/dev/null 2>&1 &
PIDS="$PIDS $!"
while [ ! -s "$T/fake.port" ]; do sleep 0.05; done
export DIFYCGI_PROVIDER_FAKE_BASE_URL="http://127.0.0.1:$(cat "$T/fake.port")/v1"

declare -A BASE KEY APP CONV EU
# up BACKEND: its database, app and key, its lighttpd, one end user with
# one conversation
up() {
	local b=$1 port
	mkdir -p "$T/$b"
	benv "$b" "$BUILD/dify-admin" init >/dev/null 2>&1
	APP[$b]=$(benv "$b" "$BUILD/dify-admin" app create --mode chat --name growth \
	    --provider fake --model gpt-test 2>/dev/null)
	KEY[$b]=$(benv "$b" "$BUILD/dify-admin" key create "${APP[$b]}" 2>/dev/null)
	port=$(free_port)
	BASE[$b]="http://127.0.0.1:$port"
	benv "$b" sh tools/gen-lighttpd.sh "$port" "$BUILD" "$T/$b/srv" > "$T/$b/lighttpd.conf"
	lighttpd_up "$b" "$T/$b/lighttpd.conf" "${BASE[$b]}/v1/"
	CONV[$b]=$(curl -s "${BASE[$b]}/v1/chat-messages" -H "Authorization: Bearer ${KEY[$b]}" \
	    -H 'Content-Type: application/json' \
	    -d '{"inputs":{},"query":"hi","user":"g","auto_generate_name":false}' | jq -r .conversation_id)
	EU[$b]=$(sql "$b" "SELECT end_user_id FROM conversations WHERE id = '${CONV[$b]}'")
	[ -n "${EU[$b]}" ] || {
		echo "bench-growth: $b: no conversation made; the programs' log:" >&2
		cat "$T/$b/srv/fcgi.log" >&2
		exit 1
	}
}
for b in $BACKENDS; do up "$b"; done

# median_ms BACKEND URL: the median of 30 requests, in ms
median_ms() {
	local i
	for i in $(seq 30); do
		curl -s -o /dev/null -w '%{time_total}\n' \
		    -H "Authorization: Bearer ${KEY[$1]}" "${BASE[$1]}$2"
	done | sort -n | sed -n 15p | awk '{ printf "%.2f", $1 * 1000 }'
}

# A random version 4 UUID in SQLite.
UUID="lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' ||
    substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) ||
    '-' || lower(hex(randomblob(6)))"

# grow_messages BACKEND N: add rows until the conversation holds N
# messages; row i is created at 1700000000 + i with seq i + 1
grow_messages() {
	local b=$1 n=$2 cols from
	cols="INSERT INTO messages (id, app_id, conversation_id, end_user_id,
	    task_id, mode, query, answer, status, created_at, seq, updated_at)"
	from="(SELECT count(*) FROM messages WHERE conversation_id = '${CONV[$b]}')"
	case $b in
	sqlite) sql "$b" "WITH RECURSIVE n(i) AS (SELECT $from
	    UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $n)
	    $cols SELECT $UUID, '${APP[$b]}', '${CONV[$b]}', '${EU[$b]}', 't', 'chat',
	    'question ' || i, 'answer number ' || i, 'normal', 1700000000 + i, i + 1,
	    1700000000 + i FROM n WHERE i > 0" ;;
	postgresql) sql "$b" "$cols
	    SELECT gen_random_uuid()::text, '${APP[$b]}', '${CONV[$b]}', '${EU[$b]}', 't', 'chat',
	    'question ' || i, 'answer number ' || i, 'normal', 1700000000 + i, i + 1,
	    1700000000 + i FROM generate_series($from, $n - 1) AS i WHERE i > 0"
		sql "$b" "ANALYZE messages" ;;
	esac
}
# grow_conversations BACKEND N: add conversations of the end user until
# the app holds N; conversation i is created and updated at 1600000000 + i
grow_conversations() {
	local b=$1 n=$2 cols from
	cols="INSERT INTO conversations (id, app_id, end_user_id, name, created_at, updated_at)"
	from="(SELECT count(*) FROM conversations WHERE app_id = '${APP[$b]}')"
	case $b in
	sqlite) sql "$b" "WITH RECURSIVE n(i) AS (SELECT $from
	    UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $n)
	    $cols SELECT $UUID, '${APP[$b]}', '${EU[$b]}', 'c' || i, 1600000000 + i,
	    1600000000 + i FROM n WHERE i > 0" ;;
	postgresql) sql "$b" "$cols
	    SELECT gen_random_uuid()::text, '${APP[$b]}', '${EU[$b]}', 'c' || i, 1600000000 + i,
	    1600000000 + i FROM generate_series($from, $n - 1) AS i WHERE i > 0"
		sql "$b" "ANALYZE conversations" ;;
	esac
}

# row NAME PATH-OF-THE-NEWEST-PAGE DEEP-SQL PARAM: one line of the table;
# @CONV@ in the path and DEEP-SQL is the backend's conversation, @APP@ its
# app; PARAM=the id DEEP-SQL selects makes the deep page
row() {
	local b deep path a d
	printf '%-44s' "$1"
	for b in $BACKENDS; do
		path=${2//@CONV@/${CONV[$b]}}
		deep=$(sql "$b" "$(echo "$3" | sed "s/@CONV@/${CONV[$b]}/g; s/@APP@/${APP[$b]}/g")")
		a=$(median_ms "$b" "$path")
		d=$(median_ms "$b" "$path&$4=$deep")
		printf '  %8s ms %8s ms' "$a" "$d"
	done
	echo
}

echo "median of 30 requests through lighttpd (curl's time_total)"
echo
heading 44 23
printf '%-44s' "size"
for b in $BACKENDS; do printf '  %11s %11s' "newest page" "deep page"; done
echo
for n in 100 1000 10000; do
	for b in $BACKENDS; do grow_messages "$b" $n; done
	row "GET /v1/messages, $n messages" "/v1/messages?user=g&conversation_id=@CONV@" \
	    "SELECT id FROM messages WHERE conversation_id = '@CONV@'
	    ORDER BY created_at, seq LIMIT 1 OFFSET 50" first_id
done
for n in 1000 10000 100000; do
	for b in $BACKENDS; do grow_conversations "$b" $n; done
	row "GET /v1/conversations, $n conversations" "/v1/conversations?user=g" \
	    "SELECT id FROM conversations WHERE app_id = '@APP@'
	    ORDER BY updated_at LIMIT 1 OFFSET 50" last_id
done
