#!/bin/bash
# Upstream faults: each maps to Dify's error (an HTTP error when blocking,
# an error event when streaming), the message is stored with status
# error, and no thread stays stuck: the next request is served at once.
. "$(dirname "$0")/../lib.sh"
export DIFYCGI_UPSTREAM_FIRST_BYTE_MS=1000 DIFYCGI_UPSTREAM_IDLE_MS=1000
export DIFYCGI_PROVIDER_DOWN_BASE_URL="http://127.0.0.1:$(free_port)/v1"
start_fake_upstream
start_server

fault() {	# fault MODEL STATUS CODE MESSAGE_REGEX [provider]
	read -r id key <<<"$(new_app chat --provider "${5:-fake}" --model "$1")"
	jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}'
	check "$1, blocking: HTTP $2 $3" body_is "
	    .status == $2 and .code == \"$3\" and (.message | test(\"$4\")) and (keys | length) == 3"
	check "$1: the provider key is not in the message" bash -c "! printf '%s' '$BODY' | grep -q sk-test"
	check "$1: the message is stored with status error and the error text" \
	    test "$(sql "SELECT status, error IS NOT NULL FROM messages WHERE app_id = '$id' ORDER BY rowid DESC LIMIT 1")" = "error|1"
	sse /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u","response_mode":"streaming"}'
	check "$1, streaming: HTTP 200 and a last error event $3" bash -c "
	    grep -q 'status 200' '$T/sse.status' && tail -1 '$T/sse' | cut -d' ' -f2- |
	    jq -e '.event == \"error\" and .code == \"$3\" and .status == $2 and (has(\"task_id\") | not) and (.message | test(\"$4\"))' >/dev/null"
}

export DIFYCGI_PROVIDER_FAKE_API_KEY=sk-test-secret
fault err-429 400 completion_request_error "Rate Limit"
fault quota-429 400 provider_quota_exceeded "quota"
fault err-401 400 provider_not_initialize "credentials"
fault err-404 400 model_currently_not_support "Not Found"
fault err-500 400 completion_request_error "Server Unavailable"
fault err-503 400 completion_request_error "503"
fault malformed 400 completion_request_error "."
fault midstream-error 400 completion_request_error "."
fault hang 400 completion_request_error "first byte|timed out"
fault stall 400 completion_request_error "idle|timed out|stalled"
fault reset 400 completion_request_error "."
fault anything 400 completion_request_error "onnect|refused" down

read -r id key <<<"$(new_app chat --provider nowhere --model x)"
jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}'
check "an unconfigured provider gets provider_not_initialize" \
    body_is '.code == "provider_not_initialize" and .status == 400'

read -r id key <<<"$(new_app chat --provider fake --model huge)"
jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}' --max-time 20
check "a huge answer ends with a clear answer or error, not a crash" \
    bash -c "[ '$STATUS' = 200 ] || [ '$STATUS' = 400 ]"

read -r id key <<<"$(new_app chat --provider fake --model gpt-test)"
t0=$(date +%s%N)
jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}'
t1=$(date +%s%N)
check "after every fault a request is served at once ($(( (t1 - t0) / 1000000 )) ms)" \
    bash -c "[ '$STATUS' = 200 ] && [ $(( (t1 - t0) / 1000000 )) -lt 1000 ]"
check "no message stays running" test "$(sql "SELECT count(*) FROM messages WHERE status = 'running'")" = 0
check "no task stays open" test "$(sql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0
check "the provider key appears in no log" bash -c "! grep -rq sk-test-secret '$T/srv' '$T/lighttpd.conf.log' 2>/dev/null"
finish
