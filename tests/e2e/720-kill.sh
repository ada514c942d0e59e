#!/bin/bash
# A program killed with SIGKILL mid-stream: the database opens clean, the
# interrupted message gets a final status once a process of the family
# runs again, and no other conversation is affected.
. "$(dirname "$0")/../lib.sh"
plan 7
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model slow-100-100)"
read -r B KB <<<"$(new_app chat --provider fake --model gpt-test)"
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"unrelated","user":"u1","auto_generate_name":false}'
OTHER=$(printf '%s' "$BODY" | jq -r .id)
BEFORE=$(sql "SELECT status, answer FROM messages WHERE id = '$OTHER'")

sse /v1/chat-messages "$KA" '{"inputs":{},"query":"q","user":"u1","response_mode":"streaming"}' &
SPID=$!
streamed() { [ "$(grep -c message "$T/sse" 2>/dev/null)" -ge 8 ]; }
wait_for 20 streamed
MSG=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
PID=$(sql "SELECT pid FROM tasks WHERE finished_at IS NULL")
check "the running message is written as it streams" \
    test "$(sql "SELECT status, CAST(length(answer) > 0 AS INTEGER) FROM messages WHERE id = '$MSG'")" = "running|1"
kill -9 "$PID"
wait $SPID
check "the client's stream ends when the process dies" bash -c "! tail -1 '$T/sse' | grep -q message_end"
check "the database passes an integrity check after the kill" test "$(db_integrity)" = ok
# the next generation (served by a live or a respawned process) sweeps
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"next","user":"u1","auto_generate_name":false}'
check "a new request is served after the kill" is_status 200
check "the interrupted message now has a final status and its partial answer" \
    test "$(sql "SELECT status, CAST(answer LIKE 'tok0 tok1 %' AS INTEGER), CAST(error LIKE '%interrupted%' AS INTEGER) FROM messages WHERE id = '$MSG'")" = "error|1|1"
check "its task no longer holds a slot" test "$(sql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0
check "the other conversation is untouched" \
    test "$(sql "SELECT status, answer FROM messages WHERE id = '$OTHER'")" = "$BEFORE"
finish
