#!/bin/bash
# Agent chat with function calling: the model calls a built-in tool, the
# tool runs, its observation goes back to the model, and the rounds reach
# the client as agent_thought / agent_message events and are stored.
. "$(dirname "$0")/../lib.sh"
start_fake_upstream
start_server
read -r A KA <<<"$(new_app agent-chat --provider fake --model tool-call)"
sse /v1/chat-messages "$KA" '{"inputs":{},"query":"what time is it?","user":"u1","response_mode":"streaming"}'
check "a tool round then an answer round, as Dify's function-call agent streams them" \
    events_are "agent_thought agent_message agent_thought message_end"
check "the first thought names the tool, its input and its observation" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -e -s '.[0] | .position == 1 and .tool == \"current_time\"
    and (.tool_input | fromjson | has(\"current_time\"))
    and (.observation | fromjson | .current_time | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC\$\"))' >/dev/null"
check "the answer round comes second and carries the tool's result back" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -e -s '[.[] | select(.event == \"agent_message\") | .answer] | join(\"\")
    | startswith(\"Tool result received: \")' >/dev/null &&
    cut -d' ' -f2- '$T/sse' | jq -e -s '[.[] | select(.event == \"agent_thought\")] | last | .position == 2' >/dev/null"
check "the upstream got the tool schema, then the tool call and its result" bash -c "
    grep '\"tools\"' '$T/fake.log' | head -1 | jq -e '.tools[0].function.name == \"current_time\"' >/dev/null &&
    grep '\"tools\"' '$T/fake.log' | sed -n 2p | jq -e '(.messages | map(.role)) == [\"user\",\"assistant\",\"tool\"]
    and .messages[1].tool_calls[0].function.name == \"current_time\"
    and .messages[2].tool_call_id == .messages[1].tool_calls[0].id' >/dev/null"
CID=$(tail -1 "$T/sse" | cut -d' ' -f2- | jq -r .conversation_id)
req GET "/v1/messages?user=u1&conversation_id=$CID" "$KA"
check "the stored message lists both thoughts in /v1/messages" body_is '
    .data[0].agent_thoughts | length == 2 and .[0].tool == "current_time" and .[0].position == 1
    and .[1].position == 2 and (.[0].observation | length) > 0 and .[0].chain_id == null'

read -r B KB <<<"$(new_app agent-chat --provider fake --model echo)"
sse /v1/chat-messages "$KB" '{"inputs":{},"query":"hi","user":"u1","response_mode":"streaming"}'
check "a model that calls no tool answers in one round" \
    events_are "agent_thought agent_message agent_thought message_end"
check "the tools are offered to it" bash -c "grep '\"tools\"' '$T/fake.log' | tail -1 | jq -e '.model == \"echo\" and (.tools | length == 1)' >/dev/null"
finish
