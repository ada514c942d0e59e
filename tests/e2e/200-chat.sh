#!/bin/bash
# POST /v1/chat-messages: blocking and streaming answers through the fake
# upstream, the prompt it receives, history, validation and isolation.
. "$(dirname "$0")/../lib.sh"
plan 46
export DIFYCGI_PROVIDER_FAKE_PROMPT_PRICE=0.5 DIFYCGI_PROVIDER_FAKE_COMPLETION_PRICE=2
export DIFYCGI_PING_INTERVAL_S=1 DIFYCGI_MEMORY_MESSAGES=3
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model echo \
    --pre-prompt "You are {{who}}. Tone: {{tone}}." --opening-statement "Ahoy" \
    --input text-input:who:Who:required:max=10 \
    --input select:tone:Tone:options=dry\|warm:default=dry --input number:n)"
read -r B KB <<<"$(new_app chat --provider fake --model echo)"
read -r C KC <<<"$(new_app completion --provider fake --model echo)"

jreq POST /v1/chat-messages "$KA" '{"inputs":{"who":"a pirate"},"query":"hello","user":"u1","files":null}'
check "a blocking chat answers 200 with Dify's message shape" body_is '
    .event == "message" and (.task_id | length) == 36 and .id == .message_id
    and (.conversation_id | length) == 36 and .mode == "chat"
    and (.created_at | type) == "number" and .metadata.retriever_resources == []
    and .metadata.annotation_reply == null'
check "the usage block has tokens, prices as strings and latency" body_is '
    .metadata.usage | (.prompt_tokens > 0) and (.completion_tokens > 0)
    and .total_tokens == .prompt_tokens + .completion_tokens
    and (.total_price | type) == "string" and .currency == "USD"
    and (.latency | type) == "number" and .prompt_price_unit == "0.001"'
check "the upstream receives the filled pre-prompt, opening statement and query" body_is '
    .answer | fromjson == [{"role":"system","content":"You are a pirate. Tone: dry."},
    {"role":"assistant","content":"Ahoy"},{"role":"user","content":"hello"}]'
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
M1=$(printf '%s' "$BODY" | jq -r .id)
check "the message is stored with status normal and its answer" \
    test "$(sql "SELECT status, CAST(length(answer) > 10 AS INTEGER), CAST(message_tokens > 0 AS INTEGER) FROM messages WHERE id = '$M1'")" = "normal|1|1"

jreq POST /v1/chat-messages "$KA" "{\"inputs\":{\"who\":\"a cat\",\"tone\":\"warm\"},\"query\":\"second\",\"user\":\"u1\",\"conversation_id\":\"$CID\"}"
check "the second turn carries the first turn as history, and this turn's inputs" body_is '
    .answer | fromjson | (.[0].content == "You are a cat. Tone: warm." and .[2].role == "user"
    and .[2].content == "hello" and .[3].role == "assistant" and (.[3].content | startswith("[{"))
    and .[4] == {"role":"user","content":"second"})'
check "the same conversation id comes back" body_is ".conversation_id == \"$CID\""
for i in 3 4 5 6 7 8 9 10 11 12; do
	jreq POST /v1/chat-messages "$KA" "{\"inputs\":{\"who\":\"x\"},\"query\":\"turn $i\",\"user\":\"u1\",\"conversation_id\":\"$CID\"}"
done
check "memory keeps the newest turns within the window (DIFYCGI_MEMORY_MESSAGES=3)" body_is '
    .answer | fromjson | [.[] | select(.role == "user") | .content] == ["turn 9","turn 10","turn 11","turn 12"]'

sse /v1/chat-messages "$KA" '{"inputs":{"who":"x"},"query":"stream me","user":"u1","response_mode":"streaming"}'
check "a streaming chat answers text/event-stream" grep -q 'status 200 text/event-stream' "$T/sse.status"
check "the stream is message events then one message_end" \
    events_are "message message_end"
check "every event starts with event, conversation_id, message_id, created_at" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -e -s 'all(.[]; (keys_unsorted[0:4]) == [\"event\",\"conversation_id\",\"message_id\",\"created_at\"])' >/dev/null"
check "message events carry task_id, id, answer and from_variable_selector" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -e -s '[.[] | select(.event == \"message\")] | all(.[]; (keys_unsorted[4:]) == [\"task_id\",\"id\",\"answer\",\"from_variable_selector\"])' >/dev/null"
check "created_at and task_id are the same on every event" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -e -s '([.[].created_at] | unique | length) == 1 and ([.[].task_id] | unique | length) == 1' >/dev/null"
check "message_end has usage metadata and files" last_event '
    .event == "message_end" and .metadata.usage.total_tokens > 0 and .files == [] and (.id | length) == 36'
streamed=$(cut -d' ' -f2- "$T/sse" | jq -j 'select(.event == "message") | .answer')
mid=$(tail -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
check "the streamed deltas concatenate to the stored answer" \
    test "$streamed" = "$(sql "SELECT answer FROM messages WHERE id = '$mid'")"

read -r S KS <<<"$(new_app chat --provider fake --model slow-100-12)"
sse /v1/chat-messages "$KS" '{"inputs":{},"query":"q","user":"u1","response_mode":"streaming"}'
first=$(grep '"event":"message"' "$T/sse" | head -1 | cut -d' ' -f1)
last=$(tail -1 "$T/sse" | cut -d' ' -f1)
# the model spaces its 12 deltas 100 ms apart: a buffered stream would
# deliver them together, load only spreads them further
check "streaming is incremental: the first event comes a second before the last ($first s vs $last s)" \
    awk -v f="$first" -v l="$last" 'BEGIN { exit !(l - f > 0.8) }'

# validation, in Dify's order: user first, then mode, then the body
jreq POST /v1/chat-messages "$KC" '{"inputs":{},"query":"x"}'
check "a missing user is refused before the mode check" expect_error 400 invalid_param "Arg user must be provided."
jreq POST /v1/chat-messages "$KC" '{"inputs":{},"query":"x","user":"u"}'
check "a completion app's key on /chat-messages gets not_chat_app" \
    expect_error 400 not_chat_app "Please check if your app mode matches the right API route."
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"","user":"u"}'
check "an empty query gets 400 'query is required'" expect_error 400 invalid_param "query is required"
jreq POST /v1/chat-messages "$KB" '{"query":"x","user":"u"}'
check "missing inputs get 400 invalid_param" expect_error 400 invalid_param "inputs is required"
jreq POST /v1/chat-messages "$KB" '{"inputs":[],"query":"x","user":"u"}'
check "inputs of the wrong type get 400 invalid_param" expect_error 400 invalid_param "inputs must be an object"
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"x","user":"u","response_mode":"fast"}'
check "an unknown response_mode gets 400 invalid_param" \
    expect_error 400 invalid_param "response_mode must be 'blocking' or 'streaming'"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"x","user":"u"}'
check "a required input left out gets '<var> is required in input form'" \
    expect_error 400 invalid_param "who is required in input form"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"who":"12345678901"},"query":"x","user":"u"}'
check "an input over max_length is refused" \
    expect_error 400 invalid_param "who in input form must be less than 10 characters"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"who":"x","tone":"loud"},"query":"x","user":"u"}'
check "a select value not among the options is refused" \
    expect_error 400 invalid_param "tone in input form must be one of the following: ['dry', 'warm']"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"who":"x","n":"abc"},"query":"x","user":"u"}'
check "a number input that is not a number is refused" \
    expect_error 400 invalid_param "n in input form must be a valid number"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"who":5},"query":"x","user":"u"}'
check "a text input that is not a string is refused" \
    expect_error 400 invalid_param "who in input form must be a string"
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"x","user":"u","conversation_id":"nope"}'
check "a conversation_id that is not a UUID gets 400" \
    expect_error 400 invalid_param "conversation_id must be a valid UUID"
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"x","user":"u","conversation_id":"0f0f0f0f-0000-4000-8000-000000000000"}'
check "an unknown conversation gets 404 'Conversation Not Exists.'" \
    expect_error 404 not_found "Conversation Not Exists."
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{\"who\":\"x\"},\"query\":\"x\",\"user\":\"u2\",\"conversation_id\":\"$CID\"}"
check "another end user's conversation is a 404, not a 403" \
    expect_error 404 not_found "Conversation Not Exists."
jreq POST /v1/chat-messages "$KB" "{\"inputs\":{},\"query\":\"x\",\"user\":\"u1\",\"conversation_id\":\"$CID\"}"
check "another app's conversation is a 404 for the same user string" \
    expect_error 404 not_found "Conversation Not Exists."
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"x","user":"u","conversation_id":"  "}'
check "a blank conversation_id starts a new conversation" is_status 200
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"x","user":12345}'
check "a numeric user is taken as its string" is_status 200
check "end users are per app and per user string" \
    test "$(sql "SELECT count(*) FROM end_users WHERE session_id = '12345' AND app_id = '$B'")" = 1

read -r G KG <<<"$(new_app agent-chat --provider fake --model echo)"
jreq POST /v1/chat-messages "$KG" '{"inputs":{},"query":"x","user":"u"}'
check "agent-chat refuses blocking mode" \
    expect_error 400 invalid_param "Agent Chat App does not support blocking mode"
sse /v1/chat-messages "$KG" '{"inputs":{},"query":"x","user":"u","response_mode":"streaming"}'
check "agent-chat streams agent_thought, agent_message and message_end" \
    events_are "agent_thought agent_message agent_thought message_end"

# transport-level refusals
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KB" \
    -H 'Content-Type: text/plain' --data-binary '{"inputs":{},"query":"x","user":"u"}' "$BASE/v1/chat-messages"); BODY=$(cat "$T/body")
check "a body that is not declared JSON gets 415" expect_error 415 unsupported_media_type \
    "Did not attempt to load JSON data because the request Content-Type was not 'application/json'."
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"x",'
check "malformed JSON gets 400 bad_request" \
    expect_error 400 bad_request "Invalid JSON payload received or JSON payload is empty."
jreq POST /v1/chat-messages "$KB" ''
check "an empty JSON body gets 400 bad_request" \
    expect_error 400 bad_request "Invalid JSON payload received or JSON payload is empty."
head -c 1200000 /dev/zero | tr '\0' 'a' > "$T/big"
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KB" \
    -H 'Content-Type: application/json' --data-binary @"$T/big" "$BASE/v1/chat-messages"); BODY=$(cat "$T/body")
check "a body over the limit gets a JSON 413" expect_error 413 request_entity_too_large \
    "The data value transmitted exceeds the capacity limit."
jreq POST /v1/chat-messages "$KB" "$(python3 -c 'print("["*5000 + "]"*5000)')"
check "deeply nested JSON gets 400, not a crash" \
    expect_error 400 bad_request "Invalid JSON payload received or JSON payload is empty."

check "prices come from the provider's configuration (per 1000 tokens)" last_event '
    .metadata.usage | .prompt_unit_price == "0.5" and .completion_unit_price == "2"
    and (.total_price | tonumber) == ((.prompt_tokens * 0.5 + .completion_tokens * 2) / 1000)'

read -r N KN <<<"$(new_app chat --provider fake --model gpt-test)"
jreq POST /v1/chat-messages "$KN" '{"inputs":{},"query":"name me","user":"u1"}'
NC=$(printf '%s' "$BODY" | jq -r .conversation_id)
named() { [ "$(sql "SELECT name FROM conversations WHERE id = '$1'")" = "Hello from the fake upstream." ]; }
check "a new conversation is named by the model after the answer" wait_for 20 named "$NC"
jreq POST /v1/chat-messages "$KN" '{"inputs":{},"query":"name me","user":"u1","auto_generate_name":false}'
NF=$(printf '%s' "$BODY" | jq -r .conversation_id)
# a conversation started after it and named: by then its naming, had
# there been one, would have run too
jreq POST /v1/chat-messages "$KN" '{"inputs":{},"query":"name me","user":"u1"}'
wait_for 20 named "$(printf '%s' "$BODY" | jq -r .conversation_id)"
check "auto_generate_name false keeps Dify's default name" \
    test "$(sql "SELECT name FROM conversations WHERE id = '$NF'")" = "New conversation"

read -r P KP <<<"$(new_app chat --provider fake --model slow-500-5)"
sse /v1/chat-messages "$KP" '{"inputs":{},"query":"q","user":"u1","response_mode":"streaming"}'
check "a bare 'event: ping' frame comes while a slow answer streams" grep -q ' ping$' "$T/sse"

read -r L KL <<<"$(new_app chat --provider fake --model slow-100-20 --max-active 1)"
sse /v1/chat-messages "$KL" '{"inputs":{},"query":"q","user":"u1","response_mode":"streaming"}' &
SPID=$!
wait_for 20 test -s "$T/sse"	# the first stream holds the slot
sse2() { python3 "$ROOT/tests/tools/sse_client.py" "$BASE/v1/chat-messages" "$KL" '{"inputs":{},"query":"q","user":"u2","response_mode":"streaming"}' > "$T/sse2" 2>/dev/null; }
sse2
check "a second stream over the app's limit of 1 gets 429 too_many_requests" bash -c "
    cut -d' ' -f2- '$T/sse2' | jq -e '.status == 429 and .code == \"too_many_requests\" and (.message | test(\"maximum concurrent requests allowed for $L is 1\"))' >/dev/null"
wait $SPID
sse2
check "the slot is free again once the first stream ends" bash -c "tail -1 '$T/sse2' | grep -q message_end"
finish
