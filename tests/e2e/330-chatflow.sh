#!/bin/bash
# Chatflow (advanced-chat) apps through POST /v1/chat-messages: two turns
# of one conversation with conversation variables written by an assigner
# and LLM memory, the workflow events with message / message_end
# (workflow.md 8, 9.2), what is stored, stop, failures and errors.
. "$(dirname "$0")/../lib.sh"
plan 42
start_fake_upstream
start_server
cat > "$T/chat.json" <<'EOF'
{"nodes":[
 {"id":"start","data":{"type":"start","title":"Start","variables":[
  {"variable":"name","label":"Name","type":"text-input","required":false,"default":"Bot"}]}},
 {"id":"assign","data":{"type":"assigner","title":"Remember","version":"2","items":[
  {"variable_selector":["conversation","last"],"input_type":"variable","operation":"over-write","value":["sys","query"]},
  {"variable_selector":["conversation","count"],"input_type":"constant","operation":"+=","value":1}]}},
 {"id":"llm","data":{"type":"llm","title":"LLM",
  "prompt_template":[{"role":"system","text":"You are {{#start.name#}}"}],
  "memory":{"window":{"enabled":true,"size":10},"query_prompt_template":"{{#sys.query#}}"},
  "context":{"enabled":false,"variable_selector":[]},"vision":{"enabled":false}}},
 {"id":"answer","data":{"type":"answer","title":"Answer",
  "answer":"{{#llm.text#}}|count={{#conversation.count#}}|last={{#conversation.last#}}"}}],
 "edges":[{"source":"start","target":"assign"},{"source":"assign","target":"llm"},
  {"source":"llm","target":"answer"}]}
EOF
DECLS='[{"id":"7b0e3c1a-1111-4a2b-8c3d-000000000001","name":"count","value_type":"number","value":0,"description":"turns so far"},{"id":"7b0e3c1a-1111-4a2b-8c3d-000000000002","name":"last","value_type":"string","value":"","description":""}]'
read -r A KA <<<"$(new_app advanced-chat --provider fake --model echo --graph "$T/chat.json")"
sql "UPDATE workflows SET conversation_variables = '$DECLS' WHERE app_id = '$A'"
read -r W KW <<<"$(new_app workflow --provider fake --model echo)"

# ---- turn 1, blocking ----
jreq POST /v1/chat-messages "$KA" '{"inputs":{"name":"Ada"},"query":"hello","user":"u1"}'
check "a blocking chatflow answers Dify's message body, mode advanced-chat" body_is '
    keys_unsorted == ["event","task_id","id","message_id","conversation_id","mode","answer","metadata","created_at"]
    and .event == "message" and .mode == "advanced-chat" and .id == .message_id
    and (.conversation_id | length) == 36 and .metadata.annotation_reply == null
    and .metadata.retriever_resources == [] and .metadata.usage.total_tokens > 0'
check "the answer is the LLM's text and the conversation variables after the assigner" body_is '
    (.answer | split("|count=") | .[0] | fromjson) == [{"role":"system","content":"You are Ada"},{"role":"user","content":"hello"}]
    and (.answer | endswith("|count=1|last=hello"))'
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
M1=$(printf '%s' "$BODY" | jq -r .message_id)
A1=$(printf '%s' "$BODY" | jq -r .answer)
check "the message is stored: answer, status, tokens and its workflow run" \
    test "$(sql "SELECT m.status, CAST(m.answer = '$(printf '%s' "$A1" | sed "s/'/''/g")' AS INTEGER), CAST(m.message_tokens > 0 AS INTEGER), r.status, CAST(r.conversation_id = m.conversation_id AS INTEGER), CAST(r.message_id = m.id AS INTEGER) FROM messages m JOIN workflow_runs r ON r.id = m.workflow_run_id WHERE m.id = '$M1'")" = "normal|1|1|succeeded|1|1"
check "the conversation's variables are stored as JSON, one row each" \
    test "$(sql "SELECT name || '=' || value || ':' || value_type FROM conversation_variables WHERE conversation_id = '$CID' ORDER BY seq" | paste -sd ' ')" = 'count=1:number last="hello":string'

# ---- turn 2, streaming ----
sse /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"second\",\"user\":\"u1\",\"response_mode\":\"streaming\",\"conversation_id\":\"$CID\"}"
check "a streaming turn: workflow events, message events, then workflow_finished and message_end" \
    events_are "workflow_started node_started node_finished node_started node_finished node_started message node_finished node_started node_finished workflow_finished message_end"
ev() { cut -d' ' -f2- "$T/sse" | grep -v '^ping$' | jq -s "$1"; }
evok() { [ "$(ev "$1")" = true ]; }
check "workflow events carry the chat envelope, then task_id, workflow_run_id, data" evok '
    [.[] | select(.event != "message" and .event != "message_end")] |
    all(.[]; keys_unsorted == ["event","conversation_id","message_id","created_at","task_id","workflow_run_id","data"])'
check "message events carry task_id, id, answer and from_variable_selector" evok '
    [.[] | select(.event == "message")] | all(.[]; keys_unsorted == ["event","conversation_id",
    "message_id","created_at","task_id","id","answer","from_variable_selector"] and .id == .message_id)'
check "the envelope is the same on every event" evok "
    ([.[].conversation_id] | unique) == [\"$CID\"] and ([.[].created_at] | unique | length) == 1
    and ([.[].task_id] | unique | length) == 1 and ([.[].message_id] | unique | length) == 1"
check "workflow_started: sys.query, dialogue count 2, no conversation id" evok '
    .[0].data.inputs | keys_unsorted == ["name","sys.files","sys.user_id","sys.app_id","sys.workflow_id",
    "sys.workflow_run_id","sys.query","sys.dialogue_count"] and .["sys.query"] == "second"
    and .["sys.dialogue_count"] == 2 and .name == "Bot"'
check "the start node also publishes sys.conversation_id" evok "
    [.[] | select(.event == \"node_finished\")][0].data.outputs[\"sys.conversation_id\"] == \"$CID\""
check "the LLM got the first turn as memory, then the query" evok '
    ([.[] | select(.event == "message") | .answer] | join("") | sub("[|]count=2[|]last=second$"; "") | fromjson) as $m |
    ($m | map(.role)) == ["system","user","assistant","user"] and $m[1].content == "hello"
    and ($m[2].content | endswith("|count=1|last=hello")) and $m[3].content == "second"
    and $m[0].content == "You are Bot"'
check "the streamed answer ends with the new variable values" evok '
    [.[] | select(.event == "message") | .answer] | join("") | endswith("|count=2|last=second")'
check "LLM chunks come from [llm, text], text from [answer, answer], variables from theirs" evok '
    [.[] | select(.event == "message") | .from_variable_selector] | unique ==
    [["answer","answer"],["conversation","count"],["conversation","last"],["llm","text"]]'
check "the assigner lists what it updated" evok '
    [.[] | select(.event == "node_finished" and .data.node_type == "assigner")][0].data.process_data.updated_variables ==
    [{"name":"last","selector":["conversation","last"],"value_type":"string","new_value":"second"},
     {"name":"count","selector":["conversation","count"],"value_type":"number","new_value":2}]'
check "message_end: usage metadata and files" evok '
    [.[] | select(.event == "message_end")][0] | keys_unsorted == ["event","conversation_id","message_id",
    "created_at","task_id","id","metadata","files"] and .metadata.usage.total_tokens > 0 and .files == []
    and (.metadata.usage.total_price | type) == "string"'
check "the stream ends exactly workflow_finished then message_end, as Dify's advanced-chat pipeline" bash -c "
    [ \"\$(tail -2 '$T/sse' | cut -d' ' -f2- | jq -r .event | tr '\n' ' ')\" = 'workflow_finished message_end ' ]"
check "workflow_finished: succeeded with the answer as outputs" evok '
    .[-2].data.status == "succeeded" and (.[-2].data.outputs | keys) == ["answer","files"]
    and (.[-2].data.outputs.answer | endswith("|count=2|last=second"))'
M2=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
STREAMED=$(cut -d' ' -f2- "$T/sse" | grep -v '^ping$' | jq -j 'select(.event == "message") | .answer')
check "the stored answer is exactly what was streamed" \
    test "$(sql "SELECT answer FROM messages WHERE id = '$M2'")" = "$STREAMED"
check "both turns are in one conversation, its dialogue count 2" \
    test "$(sql "SELECT dialogue_count, (SELECT count(*) FROM messages WHERE conversation_id = '$CID') FROM conversations WHERE id = '$CID'")" = "2|2"

req GET "/v1/conversations/$CID/variables?user=u1" "$KA"
check "GET /conversations/{id}/variables shows the persisted values" body_is '
    [.data[] | {name, value_type, value}] == [{"name":"count","value_type":"number","value":"2"},
    {"name":"last","value_type":"string","value":"second"}] and .data[0].description == "turns so far"'

jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"fresh","user":"u1"}'
check "a new conversation starts from the declared defaults" body_is '.answer | endswith("|count=1|last=fresh")'
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"x\",\"user\":\"u2\",\"conversation_id\":\"$CID\"}"
check "another end user cannot continue the conversation" expect_error 404 not_found "Conversation Not Exists."
RUN2=$(sql "SELECT workflow_run_id FROM messages WHERE id = '$M2'")
req GET "/v1/workflows/run/$RUN2" "$KA"
check "the run detail serves chatflow runs too" body_is '
    .status == "succeeded" and (.inputs | fromjson | .["sys.query"]) == "second"
    and (.inputs | fromjson | has("sys.conversation_id") | not)'

# ---- errors ----
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"","user":"u1"}'
check "an empty query is 400 'query is required'" expect_error 400 invalid_param "query is required"
jreq POST /v1/chat-messages "$KA" '{"query":"x","user":"u1"}'
check "missing inputs are 400" expect_error 400 invalid_param "inputs is required"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"x","user":"u1","conversation_id":"nope"}'
check "a malformed conversation_id is 400" expect_error 400 invalid_param "conversation_id must be a valid UUID"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"x","user":"u1","conversation_id":"11111111-2222-4333-8444-555555555555"}'
check "an unknown conversation is 404" expect_error 404 not_found "Conversation Not Exists."
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"x","user":"u1","workflow_id":"v1"}'
check "a malformed workflow_id is 400 bad_request" expect_error 400 bad_request "Invalid workflow_id format: 'v1'. "
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"x","user":"u1","workflow_id":"11111111-2222-4333-8444-555555555555"}'
check "an unknown workflow_id is 404" \
    expect_error 404 not_found "Workflow not found with id: 11111111-2222-4333-8444-555555555555"
AWID=$(sql "SELECT id FROM workflows WHERE app_id = '$A'")
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"x\",\"user\":\"u1\",\"workflow_id\":\"$AWID\"}"
check "the published workflow_id runs" body_is '.event == "message"'
jreq POST /v1/chat-messages "$KA" '{"inputs":{"name":7},"query":"x","user":"u1"}'
check "inputs are validated on every turn" expect_error 400 invalid_param "name in input form must be a string"
jreq POST /v1/workflows/run "$KA" '{"inputs":{},"user":"u1"}'
check "/workflows/run with a chatflow key is not_workflow_app" \
    expect_error 400 not_workflow_app "Please check if your app mode matches the right API route."

# ---- a model that fails ----
read -r F KF <<<"$(new_app advanced-chat --provider fake --model err-500)"
jreq POST /v1/chat-messages "$KF" '{"inputs":{},"query":"x","user":"u1"}'
check "blocking: a failed run is 400 invalid_param 'Run failed: ...'" body_is '
    .code == "invalid_param" and .status == 400 and (.message | startswith("Run failed: "))
    and (.message | length) > 12 and (keys | length) == 3'
sse /v1/chat-messages "$KF" '{"inputs":{},"query":"x","user":"u1","response_mode":"streaming"}'
check "streaming: workflow_finished failed, then an error event, no message_end" \
    events_are "workflow_started node_started node_finished node_started node_finished workflow_finished error"
check "the error event says invalid_param 'Run failed: <the node error>'" evok '
    .[-1] as $e | .[-2].data as $f | $f.status == "failed"
    and $e.code == "invalid_param" and $e.status == 400 and $e.message == ("Run failed: " + $f.error)
    and ($e | keys_unsorted) == ["event","conversation_id","message_id","created_at","task_id","code","message","status"]'
FM=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
check "the failed turn's message is stored with status error" \
    test "$(sql "SELECT status, CAST(error IS NOT NULL AS INTEGER) FROM messages WHERE id = '$FM'")" = "error|1"

# ---- stop ----
read -r S KS <<<"$(new_app advanced-chat --provider fake --model slow-100-60)"
: > "$T/sse"
sse /v1/chat-messages "$KS" '{"inputs":{},"query":"q","user":"u1","response_mode":"streaming"}' &
SPID=$!
# stop once a few tokens have streamed (polled, at most 10 s)
for i in $(seq 200); do
	[ "$(grep -c '"event":"message"' "$T/sse" 2>/dev/null)" -ge 3 ] && break
	sleep 0.05
done
TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
SM=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
t0=$(date +%s.%N)
jreq POST "/v1/chat-messages/$TASK/stop" "$KS" '{"user":"u1"}'
wait $SPID
t1=$(awk -v s="$(grep '^start ' "$T/sse.status" | cut -d' ' -f2)" -v r="$(tail -1 "$T/sse" | cut -d' ' -f1)" 'BEGIN { printf "%.6f", s + r }')
check "stop answers success" body_is '. == {"result":"success"}'
check "a stopped chatflow ends with workflow_finished (stopped) then message_end" evok '
    .[-2].event == "workflow_finished" and .[-2].data.status == "stopped"
    and .[-2].data.error == "Stopped by user." and .[-1].event == "message_end"'
check "the stream ended soon after the stop, long before the 6 s answer would ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 3) }'
PARTIAL=$(cut -d' ' -f2- "$T/sse" | grep -v '^ping$' | jq -j 'select(.event == "message") | .answer')
check "the partial answer is saved, status normal" \
    test "$(sql "SELECT status, CAST(answer = '$PARTIAL' AS INTEGER), CAST(answer LIKE 'tok0 tok1 %' AS INTEGER) FROM messages WHERE id = '$SM'")" = "normal|1|1"
check "the run is stored stopped" \
    test "$(sql "SELECT r.status FROM workflow_runs r JOIN messages m ON m.workflow_run_id = r.id WHERE m.id = '$SM'")" = stopped
check "no task stays running" test "$(sql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0
finish
