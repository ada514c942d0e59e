#!/bin/bash
# Dify's own workflow fixtures, imported with dify-admin app import and
# run against the fake upstream, give the results Dify's tests assert
# (fixtures/dsl/MANIFEST.md).  Without the importer or the fixtures the
# script fails: a missing prerequisite is not a pass.
. "$(dirname "$0")/../lib.sh"
plan 15
FIX="$FIXTURES"
check "the DSL fixtures are there ($FIX)" test -f "$FIX/dify-passthrough.yml"
check "dify-admin has the importer" bash -c "'$ADMIN' app import --help >/dev/null 2>&1"
[ "$FAILS" -eq 0 ] || exit 1
start_fake_upstream
# every provider name the fixtures use answers from the fake upstream
for p in OPENAI LANGGENIUS_OPENAI_OPENAI DEEPSEEK OLLAMA BEDROCK TONGYI; do
	export "DIFYCGI_PROVIDER_${p}_BASE_URL=$DIFYCGI_PROVIDER_FAKE_BASE_URL"
done
start_server
"$ADMIN" init >/dev/null
imp() {	# imp NAME: import fixture NAME; sets KEY
	KEY=$("$ADMIN" app import "$FIX/$1.yml" --key 2>/dev/null | tail -1)
}
wf() {	# wf NAME INPUTS: a blocking run of fixture NAME
	imp "$1"
	jreq POST /v1/workflows/run "$KEY" "{\"inputs\":$2,\"user\":\"u1\"}"
}
chat() {	# chat NAME QUERY: a blocking chatflow turn
	imp "$1"
	jreq POST /v1/chat-messages "$KEY" "{\"inputs\":{},\"query\":\"$2\",\"user\":\"u1\"}"
}
HELLO="Hello from the fake upstream."

wf dify-passthrough '{"query":"some text"}'
check "dify-passthrough: {query: input}" body_is '.data.status == "succeeded" and .data.outputs == {"query":"some text"}'
wf dify-end-no-type '{"query":"test query"}'
check "dify-end-no-type: {query: test query}" body_is '.data.outputs == {"query":"test query"}'
wf dify-if-else-hello '{"query":"hello world"}'
check "dify-if-else-hello: hello world -> {true: hello world}" body_is '.data.outputs == {"true":"hello world"}'
wf dify-dual-switch-aggregator '{"switch1":1,"switch2":0}'
check "dify-dual-switch-aggregator: 1, 0 -> switch 1 on, switch 2 off" \
    body_is '.data.outputs == {"group1":"switch 1 on","group2":"switch 2 off"}'
wf dify-loop-break '{}'
check "dify-loop-break: {num: 5}" body_is '.data.status == "succeeded" and .data.outputs == {"num":5}'
wf dify-basic-llm-workflow '{"query":"hi"}'
check "dify-basic-llm-workflow: the LLM's answer" body_is ".data.outputs == {\"answer\":\"$HELLO\"}"
wf tpl-sentiment '{"input_text":"great","Multisentiment":"False","Categories":""}'
check "tpl-sentiment (legacy if-else): one LLM branch runs" body_is ".data.status == \"succeeded\" and .data.outputs.text == \"$HELLO\""

chat dify-loop-answer 1
check "dify-loop-answer: 1\\n2\\n1 + 2" body_is '.answer == "1\n2\n1 + 2"'
chat dify-answer-order q
check "dify-answer-order: both answers, in order" \
    body_is ".answer == \"--- answer 1 ---\n\nfoo\n--- answer 2 ---\n\n$HELLO\n\""
chat dify-conv-var "remember me"
check "dify-conv-var: the answer is the query, through a conversation variable" body_is '.answer == "remember me"'
chat dify-complex-branch "hello world"
check "dify-complex-branch: 'hello world' gives both answers" \
    body_is ".answer | contains(\"contains 'hello'\") and contains(\"$HELLO\")"
jreq POST /v1/chat-messages "$KEY" '{"inputs":{},"query":"goodbye world","user":"u1"}'
check "dify-complex-branch: 'goodbye world' only the LLM's" body_is ".answer == \"$HELLO\""
chat dify-parallel-llm q
check "dify-parallel-llm: two LLM answers in template order" body_is ".answer == \"$HELLO$HELLO\""
finish
