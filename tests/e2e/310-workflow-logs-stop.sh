#!/bin/bash
# GET /v1/workflows/logs with each filter, paging and isolation, and
# POST /v1/workflows/tasks/{task_id}/stop from a second connection: the
# run ends "stopped" at once (well within 2 s of a 6 s run), its node
# executions kept.
. "$(dirname "$0")/../lib.sh"
plan 44
start_fake_upstream
start_server
read -r W KW <<<"$(new_app workflow --provider fake --model echo)"
read -r W2 KW2 <<<"$(new_app workflow --provider fake --model echo)"
read -r F KF <<<"$(new_app workflow --provider fake --model err-500)"
read -r C KC <<<"$(new_app advanced-chat --provider fake --model echo)"

run() {	# run KEY USER QUERY: a blocking run; prints its run id
	jreq POST /v1/workflows/run "$1" "{\"inputs\":{\"query\":\"$3\"},\"user\":\"$2\"}"
	printf '%s' "$BODY" | jq -r .workflow_run_id
}
R1=$(run "$KW" alice "first zebra")
R2=$(run "$KW" bob "second")
R3=$(run "$KW" alice "third")
R4=$(run "$KW2" carol "other app")
# a failed run of the first app, by moving a run of the failing app over
RF=$(run "$KF" bob "broken")
sql "UPDATE workflow_runs SET app_id = '$W' WHERE id = '$RF'"
# spread the creation times: R1 a day ago, R2 an hour ago
# two days back: yesterday's midnight lies between R1 and R2 at any hour
sql "UPDATE workflow_runs SET created_at = created_at - 172800 WHERE id = '$R1'"
sql "UPDATE workflow_runs SET created_at = created_at - 3600 WHERE id = '$R2'"
jreq POST /v1/chat-messages "$KC" '{"inputs":{},"query":"chat","user":"alice"}'

ids() { printf '%s' "$BODY" | jq -r '[.data[].workflow_run.id] | join(" ")'; }

req GET /v1/workflows/logs "$KW"
check "logs list the app's runs, newest first, with paging fields" body_is "
    .page == 1 and .limit == 20 and .total == 4 and .has_more == false
    and ([.data[].workflow_run.id]) == [\"$RF\",\"$R3\",\"$R2\",\"$R1\"]"
check "a log entry has Dify's shape" body_is '
    .data[1] | (keys_unsorted) == ["id","workflow_run","details","created_from","created_by_role",
    "created_by_account","created_by_end_user","created_at"]
    and (.id | length) == 36 and .details == null and .created_from == "service-api"
    and .created_by_role == "end_user" and .created_by_account == null
    and (.created_by_end_user | keys_unsorted) == ["id","type","is_anonymous","session_id"]
    and .created_by_end_user.session_id == "alice" and .created_by_end_user.type == "service-api"
    and .created_by_end_user.is_anonymous == false and .created_at == .workflow_run.created_at'
check "its workflow_run has Dify's keys" body_is '
    .data[1].workflow_run | keys_unsorted == ["id","version","status","triggered_from","error",
    "elapsed_time","total_tokens","total_steps","created_at","finished_at","exceptions_count"]
    and .status == "succeeded" and .triggered_from == "app-run" and .error == null
    and .total_steps == 3 and (.version | length) > 0 and .exceptions_count == 0'
LOGID=$(printf '%s' "$BODY" | jq -r '.data[1].id')
req GET /v1/workflows/logs "$KW"
check "log ids are stable" body_is ".data[1].id == \"$LOGID\""
check "the chatflow run is not in any workflow log" \
    test "$(sql "SELECT count(*) FROM workflow_runs WHERE app_id = '$C'")" = 1
req GET /v1/workflows/logs "$KW2"
check "another app's key sees only its own runs" body_is ".total == 1 and .data[0].workflow_run.id == \"$R4\""

req GET "/v1/workflows/logs?status=failed" "$KW"
check "status=failed" body_is ".total == 1 and .data[0].workflow_run.id == \"$RF\" and (.data[0].workflow_run.error | length) > 0"
req GET "/v1/workflows/logs?status=succeeded" "$KW"
check "status=succeeded" test "$(ids)" = "$R3 $R2 $R1"
req GET "/v1/workflows/logs?status=stopped" "$KW"
check "status=stopped (none yet)" body_is '.total == 0 and .data == []'
req GET "/v1/workflows/logs?keyword=ZEBRA" "$KW"
check "keyword: a case-insensitive match in the inputs" test "$(ids)" = "$R1"
req GET "/v1/workflows/logs?keyword=$R2" "$KW"
check "keyword: a run id" test "$(ids)" = "$R2"
req GET "/v1/workflows/logs?keyword=bo" "$KW"
check "keyword: the end user's session id" test "$(ids)" = "$RF $R2"
req GET "/v1/workflows/logs?keyword=nothing-like-this" "$KW"
check "keyword: no match" body_is '.total == 0'
req GET "/v1/workflows/logs?created_by_end_user_session_id=alice" "$KW"
check "created_by_end_user_session_id" test "$(ids)" = "$R3 $R1"
NOW=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }
req GET "/v1/workflows/logs?created_at__before=$(iso $((NOW - 1800)))" "$KW"
check "created_at__before" test "$(ids)" = "$R2 $R1"
req GET "/v1/workflows/logs?created_at__after=$(iso $((NOW - 7200)))Z" "$KW"
check "created_at__after (with Z)" test "$(ids)" = "$RF $R3 $R2"
req GET "/v1/workflows/logs?created_at__after=$(iso $((NOW - 7200)))%2B00:00&created_at__before=$(iso $((NOW - 1800)))" "$KW"
check "both bounds together (with an offset)" test "$(ids)" = "$R2"
req GET "/v1/workflows/logs?created_at__before=$(date -u -d "@$((NOW - 86400))" +%Y-%m-%d)" "$KW"
check "a date alone means its midnight" test "$(ids)" = "$R1"
req GET "/v1/workflows/logs?status=succeeded&created_by_end_user_session_id=alice&keyword=third" "$KW"
check "filters combine" test "$(ids)" = "$R3"
req GET "/v1/workflows/logs?limit=2" "$KW"
check "limit gives a page and has_more" body_is '.limit == 2 and .total == 4 and .has_more == true and (.data | length) == 2'
req GET "/v1/workflows/logs?limit=2&page=2" "$KW"
check "page 2 has the rest" body_is ".page == 2 and .has_more == false and ([.data[].workflow_run.id]) == [\"$R2\",\"$R1\"]"
req GET "/v1/workflows/logs?limit=2&page=9" "$KW"
check "a page past the end is empty" body_is '.data == [] and .total == 4 and .has_more == false'

req GET "/v1/workflows/logs?status=running" "$KW"
check "an unknown status is 400" \
    expect_error 400 invalid_param "status must be one of succeeded, failed, stopped: running"
req GET "/v1/workflows/logs?limit=101" "$KW"
check "limit over 100 is 400" expect_error 400 invalid_param "limit must be an integer between 1 and 100"
req GET "/v1/workflows/logs?page=0" "$KW"
check "page 0 is 400" expect_error 400 invalid_param "page must be an integer between 1 and 99999"
req GET "/v1/workflows/logs?created_at__before=yesterday" "$KW"
check "a date that is not ISO 8601 is 400" \
    expect_error 400 invalid_param "created_at__before must be an ISO 8601 date-time"
req GET "/v1/workflows/logs?created_by_account=a@b.c" "$KW"
check "an unknown account is 400" expect_error 400 invalid_param "Account not found: a@b.c"
req GET /v1/workflows/logs "$KC"
check "logs on a chatflow app are not_workflow_app" \
    expect_error 400 not_workflow_app "Please check if your app mode matches the right API route."

# ---- stop ----
read -r S KS <<<"$(new_app workflow --provider fake --model slow-100-60)"
start_stream() {	# start_stream USER [sse options]: a background stream
	: > "$T/sse"
	sse /v1/workflows/run "$KS" "{\"inputs\":{\"query\":\"q\"},\"user\":\"$1\",\"response_mode\":\"streaming\"}" "${@:2}" &
	SPID=$!
	wait_for 20 test -s "$T/sse"
	TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
	RUN=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .workflow_run_id)
}
chunks() { [ "$(grep -c '"event":"text_chunk"' "$T/sse" 2>/dev/null)" -ge "$1" ]; }
start_stream u1
wait_for 20 chunks 3
t0=$(date +%s.%N)
jreq POST "/v1/workflows/tasks/$TASK/stop" "$KS" '{"user":"u1"}'
wait $SPID
t1=$(awk -v s="$(grep '^start ' "$T/sse.status" | cut -d' ' -f2)" -v r="$(tail -1 "$T/sse" | cut -d' ' -f1)" 'BEGIN { printf "%.6f", s + r }')
check "stop answers success" body_is '. == {"result":"success"}'
check "the stream ends with workflow_finished: stopped, 'Stopped by user.'" last_event '
    .event == "workflow_finished" and .data.status == "stopped" and .data.error == "Stopped by user."'
check "the stream ended within 2 s of the stop request ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 2) }'
check "text streamed before the stop, and no node_finished for the llm" bash -c "
    grep -q '\"text_chunk\"' '$T/sse' && ! grep -q '\"node_type\":\"llm\",\"title\":\"LLM\",\"index\":2,\"predecessor_node_id\":null,\"inputs\":{}' '$T/sse'"
check "the run is stored stopped; the llm execution failed with the run's error" \
    test "$(sql "SELECT r.status, r.error, n.status, n.error, (SELECT count(*) FROM workflow_node_executions WHERE workflow_run_id = r.id) FROM workflow_runs r JOIN workflow_node_executions n ON n.workflow_run_id = r.id AND n.node_type = 'llm' WHERE r.id = '$RUN'")" = "stopped|Stopped by user.|failed|Stopped by user.|2"
check "the task is finished" test "$(sql "SELECT CAST(finished_at IS NOT NULL AS INTEGER), stop_requested FROM tasks WHERE id = '$TASK'")" = "1|1"
req GET "/v1/workflows/run/$RUN" "$KS"
check "the run detail says stopped" body_is '.status == "stopped" and .error == "Stopped by user."'
req GET "/v1/workflows/logs?status=stopped" "$KS"
check "the stopped run is in the logs under status=stopped" body_is ".total == 1 and .data[0].workflow_run.id == \"$RUN\""

start_stream u1
wait_for 20 chunks 1
n0=$(grep -c '"event":"text_chunk"' "$T/sse")
jreq POST "/v1/workflows/tasks/$TASK/stop" "$KS" '{"user":"intruder"}'
check "a stop by another end user answers success" body_is '. == {"result":"success"}'
# the owner's stop ends a run at once; ten more chunks show this did not
goes_on() { wait_for 20 chunks $((n0 + 10)) && ! grep -q workflow_finished "$T/sse"; }
check "... but the run goes on" goes_on
jreq POST "/v1/workflows/tasks/$TASK/stop" "$KS" '{"user":"u1"}'
wait $SPID

jreq POST /v1/workflows/tasks/no-such-task/stop "$KS" '{"user":"u1"}'
check "stopping an unknown task answers success" body_is '. == {"result":"success"}'
jreq POST /v1/workflows/tasks/no-such-task/stop "$KS" '{}'
check "stop needs the user" expect_error 400 invalid_param "Arg user must be provided."
jreq POST /v1/workflows/tasks/no-such-task/stop "$KC" '{"user":"u1"}'
check "stop with a chatflow key is not_workflow_app" \
    expect_error 400 not_workflow_app "Please check if your app mode matches the right API route."

# a blocking run is stopped the same way
jreq POST /v1/workflows/run "$KS" '{"inputs":{"query":"q"},"user":"u1"}' > /dev/null &
BPID=$!
llm_running() {	# the blocking run's task, once its LLM node has started
	TASK=$(sql "SELECT id FROM tasks WHERE finished_at IS NULL LIMIT 1")
	[ -n "$TASK" ] && [ "$(sql "SELECT count(*) FROM workflow_runs r JOIN workflow_node_executions n ON n.workflow_run_id = r.id WHERE r.task_id = '$TASK' AND n.node_type = 'llm'")" = 1 ]
}
wait_for 20 llm_running
jreq POST "/v1/workflows/tasks/$TASK/stop" "$KS" '{"user":"u1"}'
wait $BPID
check "a stopped blocking run is stored stopped" \
    test "$(sql "SELECT status FROM workflow_runs WHERE task_id = '$TASK'")" = stopped

# a client that leaves: the run ends and is stored with a final status
start_stream u1 --disconnect-after 6
wait $SPID
ended() { [ "$(sql "SELECT status FROM workflow_runs WHERE id = '$RUN'")" != running ]; }
wait_for 20 ended
check "after the client leaves the run ends at once, stored as stopped" \
    test "$(sql "SELECT status, error FROM workflow_runs WHERE id = '$RUN'")" = "stopped|The client disconnected before the run finished."
check "no task stays running" test "$(sql "SELECT count(*) FROM tasks WHERE finished_at IS NULL")" = 0
finish
