#!/bin/bash
# Stop and disconnect: a stop from another connection (served by another
# process) ends the stream at once (well within 2 s, where the answer
# would run 6 s) with message_end and the partial answer stored; only the task's own user may stop it; a client that
# leaves mid-stream aborts the upstream request and the answer so far is
# stored with a final status.
. "$(dirname "$0")/../lib.sh"
plan 14
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model slow-100-60)"

start_stream() {	# start_stream USER [sse options]: background stream
	sse /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"q\",\"user\":\"$1\",\"response_mode\":\"streaming\"}" "${@:2}" &
	SPID=$!
	wait_for 20 test -s "$T/sse"
	TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
	MSG=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
}

streamed() { [ "$(grep -c '"event":"message"' "$T/sse" 2>/dev/null)" -ge "$1" ]; }
start_stream u1
wait_for 20 streamed 3
t0=$(date +%s.%N)
jreq POST "/v1/chat-messages/$TASK/stop" "$KA" '{"user":"u1"}'
wait $SPID
t1=$(awk -v s="$(grep '^start ' "$T/sse.status" | cut -d' ' -f2)" -v r="$(tail -1 "$T/sse" | cut -d' ' -f1)" 'BEGIN { printf "%.6f", s + r }')
check "stop answers success" body_is '. == {"result":"success"}'
check "the stream ends with message_end after a stop" last_event '.event == "message_end" and .metadata.usage.completion_tokens > 0'
check "the stream ended within 2 s of the stop request ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 2) }'
check "the answer was cut: fewer than its 60 deltas streamed" \
    test "$(grep -c '"event":"message"' "$T/sse")" -lt 60
check "the partial answer is stored, status normal, task finished" \
    test "$(sql "SELECT m.status, CAST(m.answer LIKE 'tok0 tok1 %' AS INTEGER), CAST(t.finished_at IS NOT NULL AS INTEGER) FROM messages m JOIN tasks t ON t.id = m.task_id WHERE m.id = '$MSG'")" = "normal|1|1"
STREAMED=$(cut -d' ' -f2- "$T/sse" | jq -j 'select(.event == "message") | .answer')
check "the stored answer is exactly what was streamed" \
    test "$(sql "SELECT answer FROM messages WHERE id = '$MSG'")" = "$STREAMED"

: > "$T/sse"
start_stream u1
n0=$(grep -c '"event":"message"' "$T/sse")
jreq POST "/v1/chat-messages/$TASK/stop" "$KA" '{"user":"intruder"}'
check "a stop by another end user still answers success" body_is '. == {"result":"success"}'
# the owner's stop ends a stream at once; ten more deltas after this
# one's show it did nothing
goes_on() { wait_for 20 streamed $((n0 + 10)) && ! grep -q message_end "$T/sse"; }
check "... but the stream goes on" goes_on
jreq POST "/v1/chat-messages/$TASK/stop" "$KA" '{"user":"u1"}'
wait $SPID

: > "$T/sse"
start_stream u1 --disconnect-after 3
wait $SPID
final() { [ "$(sql "SELECT status FROM messages WHERE id = '$MSG'")" != running ]; }
wait_for 20 final
check "after a disconnect the message gets a final status with the answer so far" \
    test "$(sql "SELECT status, CAST(answer LIKE 'tok0 tok1 %' AS INTEGER) FROM messages WHERE id = '$MSG'")" = "error|1"
check "the upstream request was aborted too: the answer stopped growing" \
    test "$(sql "SELECT CAST(answer LIKE '%tok59 ' AS INTEGER) FROM messages WHERE id = '$MSG'")" = 0
check "no task stays running" test "$(sql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"q","user":"u1","response_mode":"streaming"}' --max-time 10 -N
check "a follow-up request is served at once" bash -c "[ '$STATUS' = 200 ]"

# a slow reader: the stream waits for it, nothing is lost or cut
read -r R KR <<<"$(new_app chat --provider fake --model huge)"
: > "$T/sse"
sse /v1/chat-messages "$KR" '{"inputs":{},"query":"q","user":"u1","response_mode":"streaming"}' --slow-read 0.002
check "a slow reader of an 8 MiB answer gets every byte up to the 4 MiB cap, then the error" \
    bash -c "tail -1 '$T/sse' | cut -d' ' -f2- | jq -e '.event == \"error\" and (.message | test(\"longer than 4194304\"))' >/dev/null &&
    [ \"\$(head -n -1 '$T/sse' | cut -d' ' -f2- | jq -j 'select(.event == \"message\") | .answer' | wc -c)\" = 4194304 ]"
M=$(tail -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
check "... and the message holds the same 4 MiB with status error" \
    test "$(sql "SELECT status, length(answer) FROM messages WHERE id = '$M'")" = "error|4194304"

# a blocking request can be stopped too: it answers the partial text
read -r B KB <<<"$(new_app chat --provider fake --model slow-100-60)"
(jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"q","user":"u9"}'; printf '%s' "$BODY" > "$T/blocking") &
BPID=$!
answering() {	# the blocking request's message has its first deltas
	TASK=$(sql "SELECT id FROM tasks WHERE app_id = '$B' AND finished_at IS NULL")
	[ -n "$TASK" ] && [ "$(sql "SELECT CAST(answer LIKE 'tok0 tok1 %' AS INTEGER) FROM messages WHERE task_id = '$TASK'")" = 1 ]
}
wait_for 20 answering
jreq POST "/v1/chat-messages/$TASK/stop" "$KB" '{"user":"u9"}'
wait $BPID
check "a stopped blocking request answers 200 with the partial answer" \
    jq -e '.event == "message" and (.answer | startswith("tok0 ")) and (.answer | length) < 200' "$T/blocking" >/dev/null
finish
