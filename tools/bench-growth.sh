#!/bin/bash
# Cost growth: latency of GET /v1/messages as one conversation grows to
# 10,000 messages, and of GET /v1/conversations as one end user of an app
# grows to 100,000 conversations (first page and a page deep in, by
# cursor).  Rows are written straight into SQLite; each figure is the
# median of 30 requests through lighttpd.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
T=$(mktemp -d /tmp/difycgi-growth.XXXXXX)
export DIFYCGI_DB="$T/dify.db" DIFYCGI_DATA_DIR="$T"
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
"$BUILD/dify-admin" init >/dev/null 2>&1
APP=$("$BUILD/dify-admin" app create --mode chat --name growth 2>/dev/null)
KEY=$("$BUILD/dify-admin" key create "$APP" 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sh tools/gen-lighttpd.sh "$PORT" "$BUILD" "$T/srv" > "$T/lighttpd.conf"
lighttpd -D -f "$T/lighttpd.conf" &
PIDS="$PIDS $!"
BASE="http://127.0.0.1:$PORT"
until curl -s -o /dev/null "$BASE/v1/"; do sleep 0.05; done
# one end user, one conversation to start with
CONV=$(curl -s "$BASE/v1/chat-messages" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d '{"inputs":{},"query":"hi","user":"g","auto_generate_name":false}' | jq -r .conversation_id)
EU=$(sqlite3 "$DIFYCGI_DB" "SELECT end_user_id FROM conversations WHERE id = '$CONV'")

median_ms() {	# median_ms URL
	for i in $(seq 30); do
		curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $KEY" "$1"
	done | sort -n | sed -n 15p | awk '{ printf "%.2f", $1 * 1000 }'
}
grow_messages() {	# add rows until the conversation holds $1 messages
	sqlite3 "$DIFYCGI_DB" "WITH RECURSIVE n(i) AS (SELECT (SELECT count(*) FROM messages WHERE conversation_id = '$CONV')
	    UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1)
	    INSERT INTO messages (id, app_id, conversation_id, end_user_id, task_id, mode, query, answer, status, created_at, seq, updated_at)
	    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
	    '$APP', '$CONV', '$EU', 't', 'chat', 'question ' || i, 'answer number ' || i, 'normal', 1700000000 + i, i + 1, 1700000000 + i FROM n WHERE i > 0"
}
grow_conversations() {
	sqlite3 "$DIFYCGI_DB" "WITH RECURSIVE n(i) AS (SELECT (SELECT count(*) FROM conversations WHERE app_id = '$APP')
	    UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1)
	    INSERT INTO conversations (id, app_id, end_user_id, name, created_at, updated_at)
	    SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
	    '$APP', '$EU', 'c' || i, 1600000000 + i, 1600000000 + i FROM n WHERE i > 0"
}
printf '%-44s %12s %12s\n' "size" "newest page" "deep page"
for n in 100 1000 10000; do
	grow_messages $n
	deep=$(sqlite3 "$DIFYCGI_DB" "SELECT id FROM messages WHERE conversation_id = '$CONV' ORDER BY created_at, seq LIMIT 1 OFFSET 50")
	a=$(median_ms "$BASE/v1/messages?user=g&conversation_id=$CONV")
	b=$(median_ms "$BASE/v1/messages?user=g&conversation_id=$CONV&first_id=$deep")
	printf '%-44s %9s ms %9s ms\n' "GET /v1/messages, $n messages" "$a" "$b"
done
for n in 1000 10000 100000; do
	grow_conversations $n
	deep=$(sqlite3 "$DIFYCGI_DB" "SELECT id FROM conversations WHERE app_id = '$APP' ORDER BY updated_at LIMIT 1 OFFSET 50")
	a=$(median_ms "$BASE/v1/conversations?user=g")
	b=$(median_ms "$BASE/v1/conversations?user=g&last_id=$deep")
	printf '%-44s %9s ms %9s ms\n' "GET /v1/conversations, $n conversations" "$a" "$b"
done
