#!/bin/bash
# Workflow apps through workflow.fcgi: POST /v1/workflows/run blocking and
# streaming with Dify's exact event sequence and shapes (workflow.md 9.1),
# a run of a given version, the run detail, what is stored, and every
# error case of the run endpoints.
. "$(dirname "$0")/../lib.sh"
plan 45
start_fake_upstream
start_server
read -r W KW <<<"$(new_app workflow --provider fake --model echo --pre-prompt "Conformance workflow.")"
read -r W2 KW2 <<<"$(new_app workflow --provider fake --model echo)"
read -r C KC <<<"$(new_app chat --provider fake --model echo)"
read -r F KF <<<"$(new_app workflow --provider fake --model err-500)"
WID=$(sql "SELECT id FROM workflows WHERE app_id = '$W'")

# ---- blocking ----
jreq POST /v1/workflows/run "$KW" '{"inputs":{"query":"Hi"},"user":"abc-123"}'
check "a blocking run answers 200 with task_id, workflow_run_id and data" body_is '
    (keys_unsorted) == ["task_id","workflow_run_id","data"]
    and (.task_id | length) == 36 and .workflow_run_id == .data.id'
check "the run data has Dify's keys, in order" body_is '
    (.data | keys_unsorted) == ["id","workflow_id","status","outputs","error",
    "elapsed_time","total_tokens","total_steps","created_at","finished_at"]'
check "the run succeeded in 3 steps with tokens counted" body_is "
    .data.status == \"succeeded\" and .data.error == null and .data.total_steps == 3
    and .data.total_tokens > 0 and .data.workflow_id == \"$WID\"
    and (.data.elapsed_time | type) == \"number\" and .data.finished_at >= .data.created_at"
check "the end node's output is the LLM's answer to the system prompt and the input" body_is '
    .data.outputs | keys == ["text"] and (.text | fromjson) ==
    [{"role":"system","content":"Conformance workflow."},{"role":"user","content":"Hi"}]'
RID=$(printf '%s' "$BODY" | jq -r .workflow_run_id)
check "the run is stored as succeeded with its inputs, outputs and steps" \
    test "$(sql "SELECT status, total_steps, $(jx inputs '$.query'), $(jx inputs '$."sys.user_id"'), CAST($(jx outputs '$.text') IS NOT NULL AS INTEGER), CAST(task_id IS NOT NULL AS INTEGER), CAST(finished_at IS NOT NULL AS INTEGER) FROM workflow_runs WHERE id = '$RID'")" = "succeeded|3|Hi|abc-123|1|1|1"
check "each node execution is stored: index, type, status, inputs, outputs, time" \
    test "$(sql "SELECT idx || ':' || node_type || ':' || status FROM workflow_node_executions WHERE workflow_run_id = '$RID' ORDER BY idx" | paste -sd ' ')" = "1:start:succeeded 2:llm:succeeded 3:end:succeeded"
check "the llm execution keeps its prompts, usage and elapsed time" \
    test "$(sql "SELECT $(jx process_data '$.prompts[1].text'), CAST($(jn outputs '$.usage.total_tokens') > 0 AS INTEGER), CAST($(jn execution_metadata '$.total_tokens') > 0 AS INTEGER), CAST(elapsed_time > 0 AS INTEGER) FROM workflow_node_executions WHERE workflow_run_id = '$RID' AND node_type = 'llm'")" = "Hi|1|1|1"
check "the task of the run is finished" \
    test "$(sql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0

# ---- streaming: Dify's sequence (workflow.md 9.1) ----
sse /v1/workflows/run "$KW" '{"inputs":{"query":"Hello there"},"user":"abc-123","response_mode":"streaming"}'
check "a streaming run answers text/event-stream" grep -q 'status 200 text/event-stream' "$T/sse.status"
check "the events are workflow_started, start, llm with text_chunks, end, workflow_finished" \
    events_are "workflow_started node_started node_finished node_started text_chunk node_finished node_started node_finished workflow_finished"
ev() { cut -d' ' -f2- "$T/sse" | grep -v '^ping$' | jq -s "$1"; }
evok() { [ "$(ev "$1")" = true ]; }
check "every event is event, workflow_run_id, task_id, data" evok '
    all(.[]; keys_unsorted == ["event","workflow_run_id","task_id","data"])
    and ([.[].task_id] | unique | length) == 1 and ([.[].workflow_run_id] | unique | length) == 1'
check "workflow_started carries the inputs with sys.* (no timestamp) and reason initial" evok '
    .[0].data | (keys_unsorted == ["id","workflow_id","inputs","created_at","reason"])
    and (.inputs | keys_unsorted) == ["query","sys.files","sys.user_id","sys.app_id","sys.workflow_id","sys.workflow_run_id"]
    and .inputs["sys.user_id"] == "abc-123" and .inputs["sys.files"] == [] and .reason == "initial"'
check "node_started has Dify's keys, null inputs and predecessor, indexes in start order" evok '
    [.[] | select(.event == "node_started") | .data] |
    all(.[]; keys_unsorted == ["id","node_id","node_type","title","index","predecessor_node_id",
    "inputs","inputs_truncated","created_at","extras","iteration_id","loop_id","agent_strategy"]
    and .inputs == null and .predecessor_node_id == null and .extras == {})
    and (map(.index) == [1,2,3]) and (map(.node_type) == ["start","llm","end"])'
check "node_finished has Dify's keys and the same execution ids" evok '
    [.[] | select(.event == "node_finished") | .data] as $f |
    [.[] | select(.event == "node_started") | .data.id] as $s |
    ($f | all(.[]; keys_unsorted == ["id","node_id","node_type","title","index","predecessor_node_id",
    "inputs","inputs_truncated","process_data","process_data_truncated","outputs","outputs_truncated",
    "status","error","elapsed_time","execution_metadata","created_at","finished_at","files",
    "iteration_id","loop_id"] and .status == "succeeded")) and ($f | map(.id)) == $s'
check "the start node's inputs and outputs are the inputs plus sys.* with the timestamp" evok '
    [.[] | select(.event == "node_finished" and .data.node_type == "start")][0].data |
    .inputs == .outputs and (.outputs | keys_unsorted) == ["query","sys.files","sys.user_id",
    "sys.app_id","sys.workflow_id","sys.workflow_run_id","sys.timestamp"]
    and .execution_metadata == null and .process_data == {}'
check "the llm node finishes with text, usage, finish_reason, process_data and metadata" evok '
    [.[] | select(.event == "node_finished" and .data.node_type == "llm")][0].data |
    (.outputs | keys_unsorted) == ["text","reasoning_content","usage","finish_reason"]
    and .outputs.finish_reason == "stop" and .process_data.model_mode == "chat"
    and .process_data.model_provider == "fake" and .process_data.model_name == "echo"
    and (.process_data.prompts | map(.role)) == ["system","user"]
    and .execution_metadata.total_tokens == .outputs.usage.total_tokens
    and (.outputs.usage.total_price | type) == "string" and .inputs == {}'
check "text_chunks come from [llm, text], the last one empty, and make the answer" evok '
    [.[] | select(.event == "text_chunk") | .data] as $c |
    ($c | all(.[]; keys_unsorted == ["text","from_variable_selector"] and .from_variable_selector == ["llm","text"]))
    and ($c | length) > 2 and ($c | last | .text) == ""
    and ($c | map(.text) | join("")) == (.[-1].data.outputs.text)'
check "the end node's inputs and outputs are its variables" evok '
    [.[] | select(.event == "node_finished" and .data.node_type == "end")][0].data |
    .inputs == .outputs and (.outputs | keys) == ["text"]'
check "workflow_finished has Dify's keys, created_by and the outputs" evok '
    .[-1].data | keys_unsorted == ["id","workflow_id","status","outputs","error","elapsed_time",
    "total_tokens","total_steps","created_by","created_at","finished_at","exceptions_count","files"]
    and .status == "succeeded" and .error == null and .total_steps == 3 and .exceptions_count == 0
    and .created_by.user == "abc-123" and (.created_by.id | length) == 36 and .files == []
    and (.outputs.text | fromjson | .[1].content) == "Hello there"'
SRID=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .workflow_run_id)

# a slow model streams as it goes: the first chunk well before the end
read -r S KS <<<"$(new_app workflow --provider fake --model slow-100-10)"
sse /v1/workflows/run "$KS" '{"inputs":{"query":"q"},"user":"u1","response_mode":"streaming"}'
first=$(grep '"text_chunk"' "$T/sse" | head -1 | cut -d' ' -f1)
last=$(tail -1 "$T/sse" | cut -d' ' -f1)
# 10 deltas 100 ms apart: buffered, they would come together
check "text chunks arrive as the model produces them ($first s, end at $last s)" \
    awk -v f="$first" -v l="$last" 'BEGIN { exit !(l - f > 0.7) }'

# ---- run detail ----
req GET "/v1/workflows/run/$SRID" "$KW"
check "the run detail has Dify's keys with inputs as a JSON string" body_is '
    keys_unsorted == ["id","workflow_id","status","inputs","outputs","error","total_steps",
    "total_tokens","created_at","finished_at","elapsed_time"]
    and (.inputs | type) == "string" and (.inputs | fromjson | .query) == "Hello there"
    and (.inputs | fromjson | has("sys.user_id")) and (.outputs | type) == "object"
    and .status == "succeeded" and .total_steps == 3 and (.finished_at | type) == "number"'
req GET "/v1/workflows/run/$SRID" "$KW2"
check "another app's key does not see the run" expect_error 404 not_found "Workflow run not found."
req GET "/v1/workflows/run/00000000-0000-0000-0000-000000000000" "$KW"
check "an unknown run is 404 'Workflow run not found.'" expect_error 404 not_found "Workflow run not found."
req GET "/v1/workflows/run/$SRID" "$KC"
check "the run detail on a chat app is not_workflow_app" \
    expect_error 400 not_workflow_app "Please check if your app mode matches the right API route."

# ---- a given version ----
jreq POST "/v1/workflows/$WID/run" "$KW" '{"inputs":{"query":"v"},"user":"u1"}'
check "POST /workflows/{workflow_id}/run runs that version" body_is ".data.status == \"succeeded\" and .data.workflow_id == \"$WID\""
jreq POST "/v1/workflows/not-a-uuid/run" "$KW" '{"inputs":{"query":"v"},"user":"u1"}'
check "a malformed workflow_id is 400 bad_request" \
    expect_error 400 bad_request "Invalid workflow_id format: 'not-a-uuid'. "
jreq POST "/v1/workflows/11111111-2222-4333-8444-555555555555/run" "$KW" '{"inputs":{"query":"v"},"user":"u1"}'
check "an unknown workflow_id is 404" \
    expect_error 404 not_found "Workflow not found with id: 11111111-2222-4333-8444-555555555555"
W2ID=$(sql "SELECT id FROM workflows WHERE app_id = '$W2'")
jreq POST "/v1/workflows/$W2ID/run" "$KW" '{"inputs":{"query":"v"},"user":"u1"}'
check "another app's workflow_id is 404 too" \
    expect_error 404 not_found "Workflow not found with id: $W2ID"

# ---- errors, in Dify's order ----
jreq POST /v1/workflows/run "$KW" '{"inputs":{"query":"x"}}'
check "a missing user comes first: 400 'Arg user must be provided.'" \
    expect_error 400 invalid_param "Arg user must be provided."
jreq POST /v1/workflows/run "$KC" '{"inputs":{},"user":"u1"}'
check "a chat app's key gets not_workflow_app" \
    expect_error 400 not_workflow_app "Please check if your app mode matches the right API route."
jreq POST /v1/workflows/run "$KW" '{"user":"u1"}'
check "missing inputs are 400 invalid_param" expect_error 400 invalid_param "inputs is required"
jreq POST /v1/workflows/run "$KW" '{"inputs":"x","user":"u1"}'
check "inputs that are not an object are 400 invalid_param" expect_error 400 invalid_param "inputs must be an object"
jreq POST /v1/workflows/run "$KW" '{"inputs":{"query":"x"},"user":"u1","response_mode":"fast"}'
check "an unknown response_mode is 400 invalid_param" \
    expect_error 400 invalid_param "response_mode must be 'blocking' or 'streaming'"
jreq POST /v1/workflows/run "$KW" '{"inputs":{},"user":"u1"}'
check "a required start input left out: '<var> is required in input form'" \
    expect_error 400 invalid_param "query is required in input form"
jreq POST /v1/workflows/run "$KW" '{"inputs":{"query":5},"user":"u1"}'
check "a start input of the wrong type is 400 invalid_param" \
    expect_error 400 invalid_param "query in input form must be a string"
jreq POST /v1/workflows/run "$KW" "{\"inputs\":{\"query\":\"$(head -c 5000 /dev/zero | tr '\0' a)\"},\"user\":\"u1\"}"
check "a start input over its max_length is 400 invalid_param" \
    expect_error 400 invalid_param "query in input form must be less than 4096 characters"
req POST /v1/workflows/run "$KW" -H "Content-Type: text/plain" --data-binary 'x'
check "a body that is not JSON is 415" expect_error 415 unsupported_media_type \
    "Did not attempt to load JSON data because the request Content-Type was not 'application/json'."
req GET /v1/workflows/run "$KW"
check "GET on the run route is 405" expect_error 405 method_not_allowed "The method is not allowed for the requested URL."
jreq POST /v1/workflows/run "" '{"inputs":{},"user":"u1"}'
check "no key is 401" expect_error 401 unauthorized "Authorization header must be provided and start with 'Bearer'"
read -r E KE <<<"$(new_app workflow --provider fake --model echo)"
sql "DELETE FROM workflows WHERE app_id = '$E'"
jreq POST /v1/workflows/run "$KE" '{"inputs":{},"user":"u1"}'
check "an app with no published workflow: 400 'Workflow not published'" \
    expect_error 400 invalid_param "Workflow not published"
read -r L KL <<<"$(new_app workflow --provider fake --model slow-200-20 --max-active 1)"
: > "$T/sse"
sse /v1/workflows/run "$KL" '{"inputs":{"query":"q"},"user":"u1","response_mode":"streaming"}' &
SPID=$!
wait_for 20 test -s "$T/sse"	# the first run holds the slot
jreq POST /v1/workflows/run "$KL" '{"inputs":{"query":"q"},"user":"u2"}'
check "over the app's limit of runs in flight: 429 too_many_requests" \
    expect_error 429 too_many_requests "Too many requests. Please try again later. The current maximum concurrent requests allowed for $L is 1."
LTASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
jreq POST "/v1/workflows/tasks/$LTASK/stop" "$KL" '{"user":"u1"}'
wait $SPID

# ---- a model that fails ----
jreq POST /v1/workflows/run "$KF" '{"inputs":{"query":"x"},"user":"u1"}'
check "a failed run still answers 200, status failed with the node's error" body_is '
    .data.status == "failed" and (.data.error | startswith("[fake] ")) and .data.outputs == {}
    and .data.total_steps == 2'
FRID=$(printf '%s' "$BODY" | jq -r .workflow_run_id)
check "the failed run and its failed node are stored" \
    test "$(sql "SELECT r.status, n.status, CAST(n.error = r.error AS INTEGER) FROM workflow_runs r JOIN workflow_node_executions n ON n.workflow_run_id = r.id AND n.node_type = 'llm' WHERE r.id = '$FRID'")" = "failed|failed|1"
sse /v1/workflows/run "$KF" '{"inputs":{"query":"x"},"user":"u1","response_mode":"streaming"}'
check "streaming: node_finished failed, then workflow_finished failed, no error event" \
    events_are "workflow_started node_started node_finished node_started node_finished workflow_finished"
check "... with the node's error on both" evok '
    (.[4].data.status == "failed") and (.[5].data.status == "failed")
    and .[4].data.error == .[5].data.error and (.[5].data.error | length) > 0'
finish
