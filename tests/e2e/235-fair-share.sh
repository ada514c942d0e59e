#!/bin/bash
# Fair share of a family's threads (issue 11, defect 4): one key holder's
# long streams cannot take every worker of a process.  An app holds at
# most DIFYCGI_APP_SHARE_PERCENT of a process's threads for generations
# and gets Dify's 429 body past it, while another app of the same family
# is still answered; DIFYCGI_RESERVED_THREADS keep a thread for a stop
# when generations hold all the others.  Conversation naming runs on a
# background thread: with one worker thread, the next request is served
# while the title is still being made, a client's rename is never
# overwritten, and a full queue drops the title (the default name stays);
# under plain CGI the process names after the reply has ended.
. "$(dirname "$0")/../lib.sh"
plan 17
start_fake_upstream

# bg NAME KEY BODY: a stream in the background into $T/NAME.out and
# $T/NAME.status; its pid in $T/NAME.pid
bg() {
	python3 "$ROOT/tests/tools/sse_client.py" "$BASE/v1/chat-messages" "$2" "$3" \
	    > "$T/$1.out" 2> "$T/$1.status" &
	echo $! > "$T/$1.pid"
}
# answered NAME: the status came back and, for a stream, its first answer
answered() {
	grep -q '^status 429' "$T/$1.status" 2>/dev/null ||
	    grep -q '"event": *"message"' "$T/$1.out" 2>/dev/null
}
# poll SECONDS COMMAND...: until the command succeeds, at most SECONDS
poll() {
	_end=$(($(date +%s) + $1)); shift
	until "$@"; do
		[ "$(date +%s)" -ge "$_end" ] && return 1
		sleep 0.05
	done
}
all_answered() { for _n in "$@"; do answered "$_n" || return 1; done; }
ended() { grep -q '"event": *"message_end"' "$T/$1.out" 2>/dev/null; }
status_of() { sed -n 's/^status \([0-9]*\).*/\1/p' "$T/$1.status"; }
task_of() { grep -m1 '"task_id"' "$T/$1.out" | cut -d' ' -f2- | jq -r .task_id; }
TOO_MANY="Too many requests. Please try again later. The current maximum concurrent requests allowed for"

# ---- one chat process of 4 threads: an app's share is 2, generations 3 ----
export PROCS_STREAM=1 THREADS=4
start_server
read -r A KA <<<"$(new_app chat --provider fake --model slow-100-100)"
read -r B KB <<<"$(new_app chat --provider fake --model gpt-test)"
read -r C KC <<<"$(new_app chat --provider fake --model slow-100-100)"
SLOW='{"inputs":{},"query":"long","user":"u1","response_mode":"streaming","auto_generate_name":false}'
for i in 1 2 3 4; do bg a$i "$KA" "$SLOW"; done
poll 30 all_answered a1 a2 a3 a4
RUNNING=$(for i in 1 2 3 4; do [ "$(status_of a$i)" = 200 ] && echo a$i; done)
REFUSED=$(for i in 1 2 3 4; do [ "$(status_of a$i)" = 429 ] && echo a$i; done)
check "app A opens 4 streams on 4 threads: 2 run (its share), 2 are refused" \
    test "$(echo $RUNNING | wc -w) $(echo $REFUSED | wc -w)" = "2 2"
check "each refusal is Dify's 429 too_many_requests body" bash -c "
    [ -n '$REFUSED' ] || exit 1
    for n in $(echo $REFUSED); do cut -d' ' -f2- \"$T/\$n.out\" | jq -e --arg m '$TOO_MANY $A is 2.' '
        . == {code: \"too_many_requests\", message: \$m, status: 429}' >/dev/null || exit 1; done"
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"hi","user":"u2","auto_generate_name":false}'
B_STATUS=$STATUS B_BODY=$BODY
check "app B of the same family is answered while A's streams still run" bash -c "
    [ '$B_STATUS' = 200 ] && printf '%s' '$B_BODY' | jq -e '.answer == \"Hello from the fake upstream.\"' >/dev/null &&
    ! grep -q message_end $(for n in $RUNNING; do printf '%s ' "$T/$n.out"; done)"

# a third app takes the last thread for generations; the reserve stays
bg c1 "$KC" "$SLOW"
poll 30 answered c1
check "app C still gets the last thread for generations" test "$(status_of c1)" = 200
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"hi","user":"u2","auto_generate_name":false}'
check "with every thread but the reserve generating, a new generation gets the 429 body" \
    expect_error 429 too_many_requests "$TOO_MANY $B is 0."
FIRST=$(echo $RUNNING | cut -d' ' -f1)
jreq POST "/v1/chat-messages/$(task_of "$FIRST")/stop" "$KA" '{"user":"u1"}'
check "the reserved thread still serves a stop" body_is '. == {"result":"success"}'
wait "$(cat "$T/$FIRST.pid")"
check "... and the stopped stream ends with message_end" ended "$FIRST"
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"hi","user":"u2","auto_generate_name":false}'
check "once a stream has ended, app B is answered again" body_is '.answer == "Hello from the fake upstream."'
for n in $(echo $RUNNING | cut -d' ' -f2-) c1; do
	jreq POST "/v1/chat-messages/$(task_of "$n")/stop" "$( [ "$n" = c1 ] && echo "$KC" || echo "$KA")" '{"user":"u1"}'
	wait "$(cat "$T/$n.pid")"
done
check "no task stays running" test "$(sql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0
stop_server

# ---- one thread per process and a slow model: naming waits for nobody ----
export THREADS=1 DIFYCGI_BACKGROUND_QUEUE=1
start_server
read -r N KN <<<"$(new_app chat --provider fake --model slow-100-40)"
read -r F KF <<<"$(new_app chat --provider fake --model gpt-test)"
name_of() { sql "SELECT name FROM conversations WHERE id = '$1'"; }
named() { [ "$(name_of "$1")" != "New conversation" ]; }
jreq POST /v1/chat-messages "$KN" '{"inputs":{},"query":"name me","user":"u3"}'
C1=$(printf '%s' "$BODY" | jq -r .conversation_id)
jreq POST /v1/chat-messages "$KF" '{"inputs":{},"query":"next","user":"u3","auto_generate_name":false}'
check "the next request on the only thread is served before the 4 s title is made" \
    bash -c "[ '$STATUS' = 200 ] && [ '$(name_of "$C1")' = 'New conversation' ]"
poll 30 named "$C1"
check "the title arrives later, from the model" \
    eval 'case "$(name_of "$C1")" in "tok0 tok1 "*) true ;; *) false ;; esac'
check "the title request went to the app's model with the first query" bash -c "
    grep 'You name conversations' '$T/fake.log' | tail -1 | jq -e '.model == \"slow-100-40\" and .messages[1].content == \"name me\"' >/dev/null"

# a rename by the client before the title comes is kept: jobs run in
# order, so once a later conversation is named the earlier job is done
jreq POST /v1/chat-messages "$KN" '{"inputs":{},"query":"rename me","user":"u3"}'
C2=$(printf '%s' "$BODY" | jq -r .conversation_id)
jreq POST "/v1/conversations/$C2/name" "$KN" '{"name":"Mine","user":"u3"}'
jreq POST /v1/chat-messages "$KN" '{"inputs":{},"query":"later","user":"u3"}'
C3=$(printf '%s' "$BODY" | jq -r .conversation_id)
poll 30 named "$C3"
check "a client's rename is not overwritten by the late title" test "$(name_of "$C2")" = Mine

# plain CGI has no background thread: the process ends the reply (its
# stdout closes), then names the conversation and exits
printf '%s' '{"inputs":{},"query":"cgi","user":"u5"}' > "$T/cgi.json"
mkfifo "$T/cgi.fifo"
env REQUEST_METHOD=POST SCRIPT_NAME= PATH_INFO=/v1/chat-messages \
    REQUEST_URI=/v1/chat-messages CONTENT_TYPE=application/json \
    CONTENT_LENGTH="$(wc -c < "$T/cgi.json")" HTTP_AUTHORIZATION="Bearer $KN" \
    "$BUILD_DIR/cgi-bin/chat.fcgi" < "$T/cgi.json" > "$T/cgi.fifo" 2>> "$T/cgi.log" &
CGI_PID=$!
cat "$T/cgi.fifo" > "$T/cgi.out"	# until the reply ends
CGI_CID=$(tail -1 "$T/cgi.out" | jq -r .conversation_id)
check "plain CGI: the reply ends while the process has still to make the title" \
    bash -c "grep -q '^Status: 200' '$T/cgi.out' && kill -0 $CGI_PID && [ '$(name_of "$CGI_CID")' = 'New conversation' ]"
wait $CGI_PID
check "... and the same process names the conversation before it exits" \
    bash -c "case '$(name_of "$CGI_CID")' in 'tok0 tok1 '*) exit 0;; esac; exit 1"

# the queue holds one job: a third title while one runs and one waits is
# dropped, and its conversation keeps the default name
for i in 1 2 3; do
	sse /v1/chat-messages "$KN" '{"inputs":{},"query":"flood","user":"u4","response_mode":"streaming"}' --disconnect-after 1
	eval "D$i=\$(head -1 '$T/sse' | cut -d' ' -f2- | jq -r .conversation_id)"
done
poll 30 named "$D2"
check "with the queue full the third title is dropped: named, named, default" \
    test "$(named "$D1" && echo y) $(named "$D2" && echo y) $(name_of "$D3")" = "y y New conversation"
check "... and the drop is logged" grep -q "background queue full" "$T/srv/fcgi.log"
finish
