#!/bin/bash
# Upstream faults: each maps to Dify's error (an HTTP error when blocking,
# an error event when streaming), the message is stored with status
# error, and no thread stays stuck: the next request is served at once.
# The provider key reaches the programs (the fake upstream refuses
# requests without it) and never comes back out: not in an answer, a
# stream, a stored message or the programs' log, even when the provider
# quotes it in its error text (model leak-key).
. "$(dirname "$0")/../lib.sh"
plan 61
SECRET=sk-test-secret-$$-$RANDOM
# before start_server: gen-lighttpd.sh hands the programs DIFYCGI_* as
# they are then
export DIFYCGI_PROVIDER_FAKE_API_KEY=$SECRET
export DIFYCGI_UPSTREAM_FIRST_BYTE_MS=1000 DIFYCGI_UPSTREAM_IDLE_MS=1000
export DIFYCGI_PROVIDER_DOWN_BASE_URL="http://127.0.0.1:$(free_port)/v1"
start_fake_upstream --require-key "$SECRET"
start_server
LOG="$T/srv/fcgi.log"	# lighttpd's breakagelog: the programs' stderr

# no_key FILE...: every file exists, and none holds the key
no_key() {
	for _f in "$@"; do [ -e "$_f" ] || return 1; done
	! grep -qF -- "$SECRET" "$@"
}

read -r id key <<<"$(new_app chat --provider fake --model gpt-test)"
jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}'
check "the programs send the provider key: the upstream, which requires it, answers" \
    body_is '.answer == "Hello from the fake upstream."'

fault() {	# fault MODEL STATUS CODE MESSAGE_REGEX [provider]
	read -r id key <<<"$(new_app chat --provider "${5:-fake}" --model "$1")"
	jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}'
	cp "$T/body" "$T/blocking"
	check "$1, blocking: HTTP $2 $3" body_is "
	    .status == $2 and .code == \"$3\" and (.message | test(\"$4\")) and (keys | length) == 3"
	check "$1: the message is stored with status error and the error text" \
	    test "$(sql "SELECT status, CAST(error IS NOT NULL AS INTEGER) FROM messages WHERE app_id = '$id' ORDER BY rowid DESC LIMIT 1")" = "error|1"
	sse /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u","response_mode":"streaming"}'
	check "$1, streaming: HTTP 200 and a last error event $3" bash -c "
	    grep -q 'status 200' '$T/sse.status' && tail -1 '$T/sse' | cut -d' ' -f2- |
	    jq -e '.event == \"error\" and .code == \"$3\" and .status == $2 and (has(\"task_id\") | not) and (.message | test(\"$4\"))' >/dev/null"
	sql "SELECT * FROM messages WHERE app_id = '$id'" > "$T/rows"
	cp "$T/blocking" "$T/blocking.$1"; cp "$T/sse" "$T/sse.$1"
	check "$1: the provider key is in neither answer nor the stored messages" \
	    bash -c "[ -s '$T/rows' ] && [ \$(wc -l < '$T/rows') -ge 2 ] && [ -s '$T/sse' ] &&
	    ! grep -qF -- '$SECRET' '$T/blocking' '$T/sse' '$T/rows'"
}

fault err-429 400 completion_request_error "Rate Limit"
fault quota-429 400 provider_quota_exceeded "quota"
fault err-401 400 provider_not_initialize "credentials"
fault err-404 400 model_currently_not_support "Not Found"
fault err-500 400 completion_request_error "Server Unavailable"
fault err-503 400 completion_request_error "503"
fault leak-key 400 completion_request_error "with API key \\\\*\\\\*\\\\*, sorry"
fault malformed 400 completion_request_error "."
fault midstream-error 400 completion_request_error "."
fault hang 400 completion_request_error "first byte|timed out"
fault stall 400 completion_request_error "idle|timed out|stalled"
fault reset 400 completion_request_error "."
fault anything 400 completion_request_error "onnect|refused" down
check "leak-key: the provider did quote the key; the server wrote *** in its place" \
    bash -c "grep -qF 'with API key ***, sorry' '$T/sse.leak-key' && grep -qF 'with API key ***, sorry' '$T/blocking.leak-key'"

read -r id key <<<"$(new_app chat --provider nowhere --model x)"
jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}'
check "an unconfigured provider gets provider_not_initialize" \
    body_is '.code == "provider_not_initialize" and .status == 400'

read -r id key <<<"$(new_app chat --provider fake --model huge)"
jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}' --max-time 20
check "a huge answer (8 MiB) is refused past the 4 MiB cap with Dify's error" \
    expect_error 400 completion_request_error "[fake] Error: the answer is longer than 4194304 bytes"

read -r id key <<<"$(new_app chat --provider fake --model gpt-test)"
t0=$(date +%s%N)
jreq POST /v1/chat-messages "$key" '{"inputs":{},"query":"q","user":"u"}'
t1=$(date +%s%N)
# the hang model never answers (120 s): a thread stuck on it would show
check "after every fault a request is served at once ($(( (t1 - t0) / 1000000 )) ms, under 10 s)" \
    bash -c "[ '$STATUS' = 200 ] && [ $(( (t1 - t0) / 1000000 )) -lt 10000 ]"
check "no message stays running" test "$(sql "SELECT count(*) FROM messages WHERE status = 'running'")" = 0
check "no task stays open" test "$(sql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0
check "the programs' log has the upstream errors (with *** for the key), never the key" \
    bash -c "grep -q 'upstream fake: \[fake\] Server Unavailable Error' '$LOG' &&
    grep -qF 'with API key ***, sorry' '$LOG' && ! grep -qF -- '$SECRET' '$LOG' '$T/srv/lighttpd-error.log'"
db_dump > "$T/dump"
check "the key is nowhere in the database" no_key "$T/dump"
finish
