#!/bin/bash
# backends: postgresql
# Many machines: two nodes, each with its own lighttpd, programs and data
# directory, share one PostgreSQL (a cluster of this test's own, so that
# it can be restarted) and its file store, behind haproxy on loopback.
# A conversation moves between nodes, a stop through one node ends a
# stream of the other within 200 ms, a file uploaded through one previews
# through the other, max_active_requests counts both nodes' streams, a
# node killed mid-stream leaves a message the other marks error, and a
# PostgreSQL restart mid-traffic loses no stored message while the nodes
# recover by themselves.
. "$(dirname "$0")/../lib.sh"
plan 17
command -v haproxy >/dev/null || { not_ok "haproxy is installed"; exit 1; }

# one database for both nodes
PGD=$(mktemp -d /tmp/difycgi-mnpg.XXXXXX)
MN=$(sh "$ROOT/tests/pg.sh" start "$PGD") || { not_ok "PostgreSQL starts"; exit 1; }
MN_PGHOST=$(printf '%s\n' "$MN" | sed -n "s/^PGHOST='\{0,1\}\([^']*\)'\{0,1\}$/\1/p")
MN_PGPORT=$(printf '%s\n' "$MN" | sed -n 's/^PGPORT=//p')
CLEANUP_AFTER="sh '$ROOT/tests/pg.sh' stop '$PGD' >/dev/null 2>&1"
createdb -h "$MN_PGHOST" -p "$MN_PGPORT" -U postgres dify || exit 1
mpsql() { psql -X -q -A -t -F '|' -h "$MN_PGHOST" -p "$MN_PGPORT" -U postgres -d dify -c "$1"; }
export DIFYCGI_DATABASE_URL="postgresql://postgres@/dify?host=$MN_PGHOST&port=$MN_PGPORT"
export DIFYCGI_SECRET_KEY="multi-node-secret-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export DIFYCGI_FILE_STORE=database
export DIFYCGI_TASK_STALE_S=3
export DIFYCGI_DB_TIMEOUT_MS=2000

start_fake_upstream
"$ADMIN" init >/dev/null || exit 1

# node NAME: a node's lighttpd; its port in PORT_NAME
node() {
	_p=$(free_port)
	mkdir -p "$T/$1"
	DIFYCGI_DATA_DIR="$T/$1" DIFYCGI_NODE_ID="$1" \
	    sh "$ROOT/tools/gen-lighttpd.sh" "$_p" "$BUILD_DIR" "$T/$1/srv" > "$T/$1/lighttpd.conf"
	DIFYCGI_DATA_DIR="$T/$1" DIFYCGI_NODE_ID="$1" lighttpd -D -f "$T/$1/lighttpd.conf" &
	PIDS="$PIDS $!"
	eval "LPID_$1=$!"
	eval "PORT_$1=$_p"
	wait_http "http://127.0.0.1:$_p/v1/" || exit 1
}
node a
node b
A="http://127.0.0.1:$PORT_a" B="http://127.0.0.1:$PORT_b"

LB_PORT=$(free_port)
cat > "$T/haproxy.cfg" <<CFG
global
	maxconn 512
defaults
	mode http
	timeout connect 2s
	timeout client 120s
	timeout server 120s
	option http-buffer-request
frontend api
	bind 127.0.0.1:$LB_PORT
	default_backend nodes
backend nodes
	balance roundrobin
	server a 127.0.0.1:$PORT_a check inter 1s
	server b 127.0.0.1:$PORT_b check inter 1s
CFG
haproxy -f "$T/haproxy.cfg" -db > "$T/haproxy.log" 2>&1 &
PIDS="$PIDS $!"
LB="http://127.0.0.1:$LB_PORT"
wait_http "$LB/v1/" || exit 1

read -r APP KEY <<<"$(new_app chat --provider fake --model echo)"
read -r SAPP SKEY <<<"$(new_app chat --provider fake --model slow-100-60)"

# at BASE: requests go to one node (req uses $BASE)
at() { BASE=$1; }

# 1. a conversation started on A continues on B
at "$A"
jreq POST /v1/chat-messages "$KEY" '{"inputs":{},"query":"first","user":"u1"}'
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
at "$B"
jreq POST /v1/chat-messages "$KEY" "{\"inputs\":{},\"query\":\"second\",\"user\":\"u1\",\"conversation_id\":\"$CID\"}"
check "a conversation started on node A continues on node B, with A's turn as history" body_is '
    .conversation_id == "'"$CID"'" and (.answer | fromjson | map(.content) | index("first") != null)'
req GET "/v1/messages?user=u1&conversation_id=$CID" "$KEY"
check "... and node B lists both turns" body_is '[.data[].query] == ["first", "second"]'

# 2. through the load balancer, both nodes serve
for i in 1 2 3 4; do at "$LB"; req GET /v1/info "$KEY"; done
lb_both() {
	_a=$(curl -s -o /dev/null -w '%{http_code}' "$A/v1/info" -H "Authorization: Bearer $KEY")
	_b=$(curl -s -o /dev/null -w '%{http_code}' "$B/v1/info" -H "Authorization: Bearer $KEY")
	[ "$_a" = 200 ] && [ "$_b" = 200 ] && [ "$STATUS" = 200 ]
}
check "the load balancer and both nodes answer" lb_both

# 3. a stop sent through B ends a stream served by A within 200 ms
start_stream() {	# start_stream BASE KEY USER: a stream in the background
	: > "$T/sse"
	BASE=$1 sse /v1/chat-messages "$2" "{\"inputs\":{},\"query\":\"q\",\"user\":\"$3\",\"response_mode\":\"streaming\"}" &
	SPID=$!
	wait_for 20 test -s "$T/sse"
	TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
	MSG=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
}
streamed() { [ "$(grep -c '"event":"message"' "$T/sse" 2>/dev/null)" -ge "$1" ]; }
start_stream "$A" "$SKEY" u2
wait_for 20 streamed 3
at "$B"
t0=$(date +%s.%N)
jreq POST "/v1/chat-messages/$TASK/stop" "$SKEY" '{"user":"u2"}'
t1=$(date +%s.%N)
wait $SPID
tend=$(awk -v s="$(grep '^start ' "$T/sse.status" | cut -d' ' -f2)" -v r="$(tail -1 "$T/sse" | cut -d' ' -f1)" 'BEGIN { printf "%.6f", s + r }')
lag=$(awk -v a="$t1" -v b="$tend" 'BEGIN { printf "%.3f", b - a }')
check "a stop sent through B ends A's stream within 200 ms of its answer (${lag} s; the stop took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s)" \
    awk -v a="$t0" -v b="$tend" -v c="$t1" 'BEGIN { exit !(b - c < 0.2 && b > a) }'
check "... and A's stream ended with message_end" last_event '.event == "message_end"'

# 4. a file uploaded through A previews through B
head -c 300000 /dev/urandom > "$T/blob.bin"
printf '\x89PNG\r\n\x1a\n' | cat - "$T/blob.bin" > "$T/pic.png"
at "$A"
req POST /v1/files/upload "$KEY" -F "file=@$T/pic.png;type=image/png" -F user=u1
FID=$(printf '%s' "$BODY" | jq -r .id)
URL=$(printf '%s' "$BODY" | jq -r .source_url)
check "an upload through A answers 201" is_status 201
BURL="$B${URL#$A}"
curl -s -o "$T/back.png" "$BURL"
check "its signed link, made by A, previews byte for byte through B" cmp -s "$T/pic.png" "$T/back.png"
check "... and no node keeps it on its disk" test -z "$(find "$T/a" "$T/b" -path '*/files/*' -type f 2>/dev/null)"

# 5. max_active_requests counts streams on both nodes
read -r LAPP LKEY <<<"$(new_app chat --provider fake --model slow-100-60 --max-active 2)"
BASE=$A sse /v1/chat-messages "$LKEY" '{"inputs":{},"query":"q","user":"l1","response_mode":"streaming"}' > /dev/null 2>&1 &
L1=$!
active() { [ "$(mpsql "SELECT count(*) FROM tasks WHERE app_id = '$LAPP' AND finished_at IS NULL")" -ge "$1" ]; }
wait_for 20 active 1
(BASE=$B; cp /dev/null "$T/sse.l2"; python3 "$ROOT/tests/tools/sse_client.py" "$B/v1/chat-messages" "$LKEY" \
    '{"inputs":{},"query":"q","user":"l2","response_mode":"streaming"}' > "$T/sse.l2" 2>/dev/null) &
L2=$!
wait_for 20 active 2
at "$A"
jreq POST /v1/chat-messages "$LKEY" '{"inputs":{},"query":"q","user":"l3","response_mode":"streaming"}'
s1=$STATUS b1=$BODY
at "$B"
jreq POST /v1/chat-messages "$LKEY" '{"inputs":{},"query":"q","user":"l3","response_mode":"streaming"}'
check "with one stream on A and one on B, a third is refused on either node (429 too_many_requests)" \
    bash -c "[ '$s1' = 429 ] && [ '$STATUS' = 429 ] && printf '%s' '$b1' | jq -e '.code == \"too_many_requests\"' >/dev/null"
for t in $(mpsql "SELECT id FROM tasks WHERE app_id = '$LAPP' AND finished_at IS NULL"); do
	jreq POST "/v1/chat-messages/$t/stop" "$LKEY" '{"user":"l1"}'
	jreq POST "/v1/chat-messages/$t/stop" "$LKEY" '{"user":"l2"}'
done
wait $L1 $L2

# 6. kill -9 of A's programs mid-stream: B marks the message error
start_stream "$A" "$SKEY" u3
# past the first save of the answer so far (every half second)
wait_for 20 streamed 8
# the whole node dies: lighttpd first, so it respawns nothing
KIDS=$(pgrep -P "$LPID_a")
kill -9 "$LPID_a" $KIDS
wait "$LPID_a" 2>/dev/null
wait $SPID
marked() { [ "$(mpsql "SELECT status FROM messages WHERE id = '$MSG'")" = error ]; }
# B's processes sweep every DIFYCGI_TASK_STALE_S (3 s) once A's heartbeat
# is older than that
wait_for 20 marked
check "A's programs killed mid-stream: B marks the message error (after the 3 s heartbeat limit)" marked
at "$B"
req GET "/v1/messages?user=u3&conversation_id=$(mpsql "SELECT conversation_id FROM messages WHERE id = '$MSG'")" "$SKEY"
check "... and B lists it with status error, its partial answer and the reason" body_is '
    .data[-1].status == "error" and (.data[-1].answer | startswith("tok0 tok1 "))
    and (.data[-1].error | test("interrupted"))'
check "its task holds no slot" test "$(mpsql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0
# node A comes back (same port: haproxy finds it again)
DIFYCGI_DATA_DIR="$T/a" DIFYCGI_NODE_ID=a lighttpd -D -f "$T/a/lighttpd.conf" &
PIDS="$PIDS $!"
wait_http "$A/v1/" || exit 1

# 7. PostgreSQL restarts mid-traffic: a quick restart costs a wait, not
# an error; an outage longer than DIFYCGI_DB_TIMEOUT_MS (2 s here) gets
# Dify's JSON error; nothing stored is lost, and the nodes recover
# without a restart of their own
: > "$T/traffic"
traffic() {
	i=0
	while [ ! -e "$T/traffic.stop" ]; do
		i=$((i + 1))
		for n in "$A" "$B"; do
			curl -s -o "$T/t.body" -w '%{http_code} %{time_total}' "$n/v1/chat-messages" \
			    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --max-time 30 \
			    -d "{\"inputs\":{},\"query\":\"t$i\",\"user\":\"traffic\",\"auto_generate_name\":false}" > "$T/t.code"
			printf '%s %s\n' "$(cat "$T/t.code")" "$(jq -c '{id, code}' "$T/t.body" 2>/dev/null || echo null)" >> "$T/traffic"
		done
	done
}
pgctl() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$PGD/data" -l "$PGD/pg.log" -w "$@"
	else
		/usr/lib/postgresql/15/bin/pg_ctl -D "$PGD/data" -l "$PGD/pg.log" -w "$@"
	fi >/dev/null 2>&1
}
lines() { wc -l < "$T/traffic"; }
traffic &
TPID=$!
grown() { [ "$(lines)" -ge "$1" ]; }
wait_for 20 grown 10
BEFORE=$(mpsql "SELECT count(*) FROM messages")
pgctl -m fast restart
n0=$(lines)
wait_for 30 grown $((n0 + 10))
n_quick=$(grep -vc '^200 ' "$T/traffic")
grep -v '^200 ' "$T/traffic" | sed 's/^/# quick restart: /' 
pgctl -m fast stop
sleep 5
pgctl start
n1=$(lines)
wait_for 30 grown $((n1 + 10))
touch "$T/traffic.stop"
wait $TPID
ok_ids=$(grep '^200 ' "$T/traffic" | cut -d' ' -f3- | jq -r .id)
n_ok=$(printf '%s\n' $ok_ids | grep -c .)
n_bad=$(grep -vc '^200 ' "$T/traffic")
stored=$(for id in $ok_ids; do echo "'$id'"; done | paste -sd, -)
n_stored=$(mpsql "SELECT count(*) FROM messages WHERE id IN ($stored) AND status = 'normal'")
check "a quick restart of PostgreSQL fails no request ($n_quick failed)" test "$n_quick" = 0
check "every message answered 200 around the restart and the outage is stored ($n_stored of $n_ok)" \
    test "$n_stored" = "$n_ok"
check "messages stored before are all still there" \
    test "$(mpsql "SELECT count(*) FROM messages")" -ge "$BEFORE"
slowest=$(grep -v '^200 ' "$T/traffic" | cut -d' ' -f2 | sort -n | tail -1)
check "during a 5 s outage requests fail ($n_bad) with a JSON error, none waiting past 4 s (slowest ${slowest:-0} s)" \
    bash -c "[ $n_bad -gt 0 ] && ! grep -v '^200 ' '$T/traffic' | grep -v '\"code\":\"[a-z_]*\"' | grep -q . &&
    awk -v s='${slowest:-0}' 'BEGIN { exit !(s < 4) }'"
tail -4 "$T/traffic" > "$T/traffic.tail"
check "after the outage both nodes answer again without being restarted" \
    test "$(grep -c '^200 ' "$T/traffic.tail")" = 4
finish
