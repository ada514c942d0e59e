#!/bin/bash
# POST /v1/completion-messages and its stop endpoint.
. "$(dirname "$0")/../lib.sh"
plan 16
start_fake_upstream
start_server
read -r A KA <<<"$(new_app completion --provider fake --model echo \
    --pre-prompt "Write about {{topic}}." --input paragraph:topic:Topic:required)"
read -r B KB <<<"$(new_app chat --provider fake --model echo)"

jreq POST /v1/completion-messages "$KA" '{"inputs":{"topic":"tea"},"user":"u1","files":null}'
check "a blocking completion answers Dify's shape without conversation_id" body_is '
    .event == "message" and .mode == "completion" and (has("conversation_id") | not)
    and .id == .message_id and (.task_id | length) == 36 and .metadata.usage.total_tokens > 0'
check "the upstream receives the pre-prompt filled from inputs" body_is '
    .answer | fromjson == [{"role":"user","content":"Write about tea."}]'
jreq POST /v1/completion-messages "$KA" '{"inputs":{"topic":"tea"},"query":"Be brief.","user":"u1"}'
check "a legacy query is added after the prompt" body_is '
    .answer | fromjson == [{"role":"user","content":"Write about tea.\n\nBe brief."}]'
check "completion messages are stored without a conversation" \
    test "$(sql "SELECT count(*) FROM messages WHERE app_id = '$A' AND conversation_id IS NULL AND status = 'normal'")" = 2

sse /v1/completion-messages "$KA" '{"inputs":{"topic":"tea"},"user":"u1","response_mode":"streaming"}'
check "a streaming completion is message events then message_end" events_are "message message_end"
check "completion events carry no conversation_id" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -e -s 'all(.[]; (has(\"conversation_id\") | not) and (keys_unsorted[0:3]) == [\"event\",\"message_id\",\"created_at\"])' >/dev/null"

jreq POST /v1/completion-messages "$KA" '{"inputs":{},"user":"u1"}'
check "a required input left out is refused" expect_error 400 invalid_param "topic is required in input form"
jreq POST /v1/completion-messages "$KA" '{"user":"u1"}'
check "inputs are required" expect_error 400 invalid_param "inputs is required"
jreq POST /v1/completion-messages "$KA" '{"inputs":{"topic":"x"}}'
check "user is required" expect_error 400 invalid_param "Arg user must be provided."
jreq POST /v1/completion-messages "$KB" '{"inputs":{},"user":"u1"}'
check "a chat app's key gets app_unavailable, not not_completion_app" \
    expect_error 400 app_unavailable "App unavailable, please check your app configurations."
jreq POST /v1/completion-messages/some-task/stop "$KB" '{"user":"u1"}'
check "stop on a chat app through the completion route gets app_unavailable" \
    expect_error 400 app_unavailable "App unavailable, please check your app configurations."
jreq POST /v1/completion-messages/some-task/stop "$KA" '{"user":"u1"}'
check "stop of an unknown task still answers success" body_is '. == {"result":"success"}'
jreq POST /v1/completion-messages/some-task/stop "$KA" '{}'
check "stop needs the user" expect_error 400 invalid_param "Arg user must be provided."

read -r S KS <<<"$(new_app completion --provider fake --model slow-100-100)"
sse /v1/completion-messages "$KS" '{"inputs":{},"user":"u1","response_mode":"streaming"}' &
SPID=$!
streamed() { [ "$(grep -c '"event":"message"' "$T/sse" 2>/dev/null)" -ge "$1" ]; }
wait_for 20 streamed 3
TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
jreq POST "/v1/completion-messages/$TASK/stop" "$KS" '{"user":"u1"}'
check "stopping a running completion answers success" body_is '. == {"result":"success"}'
wait $SPID
# the whole answer is 100 deltas 100 ms apart (10 s)
check "the stopped stream ends with message_end, most of its 100 deltas never sent" \
    bash -c "tail -1 '$T/sse' | grep -q message_end && [ \$(grep -c '\"event\":\"message\"' '$T/sse') -lt 80 ]"
M=$(tail -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
check "the partial answer is stored with status normal" \
    test "$(sql "SELECT status, CAST(answer LIKE 'tok0 %' AS INTEGER) FROM messages WHERE id = '$M'")" = "normal|1"
finish
