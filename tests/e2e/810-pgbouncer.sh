#!/bin/bash
# backends: postgresql
# Through pgbouncer in session mode (as README "Many machines" ships it):
# the programs' prepared statements, session settings and advisory locks
# hold on pooled connections; chats, streams, a stop, listings, uploads
# and a workflow run all work, and pgbouncer reused its server
# connections rather than opening one per request.
. "$(dirname "$0")/../lib.sh"
plan 8
command -v pgbouncer >/dev/null || { not_ok "pgbouncer is installed"; exit 1; }
BPORT=$(free_port)
BD=$(mktemp -d /tmp/difycgi-pgb.XXXXXX)
chmod 755 "$BD"
cat > "$BD/pgbouncer.ini" <<INI
[databases]
dify = host=$PGHOST port=$PGPORT dbname=$PG_DB user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BPORT
unix_socket_dir =
auth_type = any
pool_mode = session
max_client_conn = 200
default_pool_size = 50
server_reset_query = DISCARD ALL
logfile = $BD/pgbouncer.log
pidfile = $BD/pgbouncer.pid
admin_users = postgres
ignore_startup_parameters = extra_float_digits
INI
if [ "$(id -u)" = 0 ]; then
	chown -R postgres "$BD"
	runuser -u postgres -- pgbouncer "$BD/pgbouncer.ini" > "$BD/out" 2>&1 &
else
	pgbouncer "$BD/pgbouncer.ini" > "$BD/out" 2>&1 &
fi
PIDS="$PIDS $!"
CLEANUP_AFTER="rm -rf '$BD'"
up() { psql -X -q -h 127.0.0.1 -p "$BPORT" -U postgres -d dify -c 'SELECT 1' >/dev/null 2>&1; }
wait_for 10 up
check "pgbouncer answers" up
export DIFYCGI_DATABASE_URL="postgresql://postgres@127.0.0.1:$BPORT/dify"
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model gpt-test)"
read -r S KS <<<"$(new_app chat --provider fake --model slow-100-60)"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"hi","user":"u1"}'
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
check "a blocking chat through pgbouncer" is_status 200
for i in 1 2 3 4 5 6; do
	jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"turn $i\",\"user\":\"u1\",\"conversation_id\":\"$CID\"}"
done
req GET "/v1/messages?user=u1&conversation_id=$CID" "$KA"
check "seven turns of one conversation, listed in order" body_is '[.data[].query] == ["hi","turn 1","turn 2","turn 3","turn 4","turn 5","turn 6"]'
: > "$T/sse"
sse /v1/chat-messages "$KS" '{"inputs":{},"query":"q","user":"u2","response_mode":"streaming"}' &
SPID=$!
wait_for 20 test -s "$T/sse"
TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
jreq POST "/v1/chat-messages/$TASK/stop" "$KS" '{"user":"u2"}'
wait $SPID
check "a stream stopped through pgbouncer ends with message_end" last_event '.event == "message_end"'
printf 'hello pgbouncer' > "$T/a.txt"
req POST /v1/files/upload "$KA" -F "file=@$T/a.txt;type=text/plain" -F user=u1
URL=$(printf '%s' "$BODY" | jq -r .source_url)
check "an upload stored in the database through pgbouncer reads back" \
    test "$(curl -s "$URL")" = "hello pgbouncer"
read -r W KW <<<"$(new_app workflow --provider fake --model echo)"
jreq POST /v1/workflows/run "$KW" '{"inputs":{"query":"Hi"},"user":"u1"}'
check "a workflow run through pgbouncer" body_is '.data.status == "succeeded"'
check "no database error in the programs' logs" bash -c "! grep -h 'ERROR db' '$T'/srv/*.log"
servers=$(psql -X -q -A -t -h 127.0.0.1 -p "$BPORT" -U postgres -d pgbouncer -c 'SHOW SERVERS' 2>/dev/null | grep -c .)
check "pgbouncer pooled the programs' connections ($servers server connections)" \
    test "$servers" -ge 1 -a "$servers" -le 50
finish
