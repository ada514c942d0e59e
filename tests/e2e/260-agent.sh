#!/bin/bash
# Agent chat with function calling: the model calls a built-in tool, the
# tool runs, its observation goes back to the model, and the rounds reach
# the client as agent_thought / agent_message events and are stored;
# several tool rounds up to max_iteration, an error after a tool round and
# a client that leaves mid-agent all end cleanly (the sanitizer build
# checks that no round's copied tool calls leak).
. "$(dirname "$0")/../lib.sh"
plan 13
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

# max_iteration APP N: set agent_mode.max_iteration in the app's config
max_iteration() {
	_c=$(sql "SELECT config FROM apps WHERE id = '$1'" |
	    jq -c --argjson n "$2" '.agent_mode.max_iteration = $n' | sed "s/'/''/g")
	[ -n "$_c" ] && sql "UPDATE apps SET config = '$_c' WHERE id = '$1'"
}

# an agent that calls a tool every round it may: rounds 1 and 2 call, the
# last (max_iteration 3) is offered no tools and answers
read -r L KL <<<"$(new_app agent-chat --provider fake --model tool-loop)"
max_iteration "$L" 3
sse /v1/chat-messages "$KL" '{"inputs":{},"query":"loop","user":"u1","response_mode":"streaming"}'
check "max_iteration 3: two tool rounds, then an answer round without tools" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -e -s '[.[] | select(.event == \"agent_thought\") | .position] == [1,2,3,3]
    and ([.[] | select(.event == \"agent_message\") | .answer] | join(\"\")) == \"Tool results received: 2\"
    and .[-1].event == \"message_end\"' >/dev/null"
check "the last round carries both rounds' calls and results and offers no tools" bash -c "
    grep '\"tool-loop\"' '$T/fake.log' | jq -e -s '[.[] | select(.messages[0].content == \"loop\")] | last | (has(\"tools\") | not)
    and (.messages | map(.role)) == [\"user\",\"assistant\",\"tool\",\"assistant\",\"tool\"]
    and .messages[1].tool_calls[0].id != .messages[3].tool_calls[0].id' >/dev/null"
LM=$(tail -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
check "the message stores three thoughts, status normal" \
    test "$(sql "SELECT status, $(jlen agent_thoughts) FROM messages WHERE id = '$LM'")" = "normal|3"

# the model fails in the round after a tool call
read -r E KE <<<"$(new_app agent-chat --provider fake --model tool-loop-err)"
sse /v1/chat-messages "$KE" '{"inputs":{},"query":"fail","user":"u1","response_mode":"streaming"}'
check "an upstream error after a tool round ends the stream with an error event" bash -c "
    [ \"\$(cut -d' ' -f2- '$T/sse' | jq -r .event | tr '\n' ' ')\" = 'agent_thought error ' ] &&
    tail -1 '$T/sse' | cut -d' ' -f2- | jq -e '.code == \"completion_request_error\" and .status == 400' >/dev/null"
EM=$(tail -1 "$T/sse" | cut -d' ' -f2- | jq -r .message_id)
check "... and the message is stored with status error and the tool round's thought" \
    test "$(sql "SELECT status, $(jlen agent_thoughts) FROM messages WHERE id = '$EM'")" = "error|1"

# a client that leaves after the first thought of a long agent
read -r G KG <<<"$(new_app agent-chat --provider fake --model tool-loop)"
max_iteration "$G" 20
sse /v1/chat-messages "$KG" '{"inputs":{},"query":"bye","user":"u1","response_mode":"streaming"}' --disconnect-after 1
for i in $(seq 200); do
	[ "$(sql "SELECT count(*) FROM tasks WHERE app_id = '$G' AND finished_at IS NOT NULL")" = 1 ] && break
	sleep 0.05
done
check "a client leaving mid-agent: the task finishes and the message gets a final status" \
    test "$(sql "SELECT CAST(m.status != 'running' AS INTEGER), CAST(t.finished_at IS NOT NULL AS INTEGER) FROM messages m JOIN tasks t ON t.id = m.task_id WHERE m.app_id = '$G'")" = "1|1"
finish
