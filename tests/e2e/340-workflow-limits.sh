#!/bin/bash
# Long runs: "event: ping" frames while a workflow streams, the run time
# limit (APP_MAX_EXECUTION_TIME) ending a run as failed, and a chatflow
# answer written to its message while it streams.
. "$(dirname "$0")/../lib.sh"
plan 7
export DIFYCGI_PING_INTERVAL_S=1
export DIFYCGI_APP_MAX_EXECUTION_S=3
start_fake_upstream
start_server
read -r W KW <<<"$(new_app workflow --provider fake --model slow-100-22)"
sse /v1/workflows/run "$KW" '{"inputs":{"query":"q"},"user":"u1","response_mode":"streaming"}'
check "a 2 s workflow stream carries pings, as bare 'event: ping' frames" \
    test "$(grep -c ' ping$' "$T/sse")" -ge 2
check "... and still ends with workflow_finished, succeeded" last_event \
    '.event == "workflow_finished" and .data.status == "succeeded"'

read -r L KL <<<"$(new_app workflow --provider fake --model slow-100-60)"
sse /v1/workflows/run "$KL" '{"inputs":{"query":"q"},"user":"u1","response_mode":"streaming"}'
check "a run past the time limit ends failed with Dify's message" last_event '
    .event == "workflow_finished" and .data.status == "failed"
    and (.data.error | test("^Maximum execution time exceeded: [0-9]+\\.[0-9]{2}s > 3s$"))'
# not before the limit; and ended by it, not by the model, which takes 6 s
check "... once the limit has passed, with the model's answer cut ($(tail -1 "$T/sse" | cut -d' ' -f1) s)" \
    bash -c "awk -v t=\"\$(tail -1 '$T/sse' | cut -d' ' -f1)\" 'BEGIN { exit !(t > 2.9) }' &&
    [ \$(grep -c '\"event\":\"text_chunk\"' '$T/sse') -lt 60 ]"
RUN=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .workflow_run_id)
check "the run is stored failed, the llm execution failed with the same error" \
    test "$(sql "SELECT r.status, n.status, CAST(n.error = r.error AS INTEGER) FROM workflow_runs r JOIN workflow_node_executions n ON n.workflow_run_id = r.id AND n.node_type = 'llm' WHERE r.id = '$RUN'")" = "failed|failed|1"

read -r C KC <<<"$(new_app advanced-chat --provider fake --model slow-100-20)"
: > "$T/sse"
sse /v1/chat-messages "$KC" '{"inputs":{},"query":"q","user":"u1","response_mode":"streaming"}' &
SPID=$!
partial() { [ "$(sql "SELECT count(*) FROM messages WHERE status = 'running' AND answer LIKE 'tok0 tok1 tok2 %'")" = 1 ]; }
check "a chatflow answer is written to its message while it streams" wait_for 20 partial
wait $SPID
check "... and finished at the end" \
    test "$(sql "SELECT status, CAST(answer LIKE '%tok19 ' AS INTEGER) FROM messages ORDER BY created_at DESC, seq DESC LIMIT 1")" = "normal|1"
finish
