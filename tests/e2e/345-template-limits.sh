#!/bin/bash
# Issue 11, defect 3: a template-transform node's render is bounded and
# can be stopped.  A template that doubles a list fails at the byte limit
# (DIFYCGI_TEMPLATE_MAX_MB) with the node's error, and the run is stored
# failed; a streaming run of an expensive template (within a raised
# DIFYCGI_TEMPLATE_MAX_STEPS) ends "stopped" promptly after
# POST /v1/workflows/tasks/{task_id}/stop.
. "$(dirname "$0")/../lib.sh"
plan 12
export DIFYCGI_TEMPLATE_MAX_MB=16
export DIFYCGI_TEMPLATE_MAX_STEPS=2000000000
start_server

# answered STATUS JQ: the status, and the expression true on the body (jq
# 1.6 -e counts an empty body as true)
answered() { is_status "$1" && [ -n "$BODY" ] && body_is "$2"; }

graph() {	# graph FILE TEMPLATE: Start -> Template -> End(output)
	jq -n --arg t "$2" '{"nodes":[
	 {"id":"start","data":{"type":"start","title":"Start","variables":[]}},
	 {"id":"tt","data":{"type":"template-transform","title":"Template",
	  "template":$t,"variables":[]}},
	 {"id":"end","data":{"type":"end","title":"End","outputs":[
	  {"variable":"output","value_selector":["tt","output"]}]}}],
	 "edges":[{"source":"start","target":"tt"},{"source":"tt","target":"end"}]}' > "$1"
}

# ---- a render that grows without bound fails at the byte limit ----
graph "$T/huge.json" '{% set l = range(100000)|list %}{% for i in range(16) %}{% set l = l + l %}{% endfor %}{{ l|length }}'
read -r H KH <<<"$(new_app workflow --graph "$T/huge.json")"
t0=$(date +%s.%N)
jreq POST /v1/workflows/run "$KH" '{"inputs":{},"user":"u1"}' --max-time 30
t1=$(date +%s.%N)
MSG="template needs too much memory to render (more than 16777216 bytes)"
check "a list doubled 16 times fails the run with the node's error ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)" answered 200 "
    .data.status == \"failed\" and .data.outputs == {}
    and .data.error == \"$MSG\""
RID=$(printf '%s' "$BODY" | jq -r .workflow_run_id)
check "the run is stored failed with the node's error" \
    test "$(sql "SELECT status, error, CAST(finished_at IS NOT NULL AS INTEGER) FROM workflow_runs WHERE id = '$RID'")" = "failed|$MSG|1"
check "the template node's execution is stored failed with the error" \
    test "$(sql "SELECT node_type, status, error FROM workflow_node_executions WHERE workflow_run_id = '$RID' AND node_id = 'tt'")" = "template-transform|failed|$MSG"
req GET "/v1/workflows/run/$RID" "$KH"
check "the run detail says failed, with the error" answered 200 ".status == \"failed\" and .error == \"$MSG\""
check "the server still answers" bash -c "curl -s -o /dev/null -w '%{http_code}' '$BASE/v1/' | grep -qx 200"

# ---- a stop ends an expensive render promptly ----
# 10^10 comparisons: minutes of work, well within the raised step limit
graph "$T/slow.json" '{% set big = range(100000)|list %}{% for i in range(100000) %}{% if -1 in big %}{% endif %}{% endfor %}done'
read -r S KS <<<"$(new_app workflow --graph "$T/slow.json")"
: > "$T/sse"
sse /v1/workflows/run "$KS" '{"inputs":{},"user":"u1","response_mode":"streaming"}' &
SPID=$!
# wait (at most 10 s) until the template node has started
for i in $(seq 200); do
	grep -q '"node_type":"template-transform"' "$T/sse" 2>/dev/null && break
	sleep 0.05
done
TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
RUN=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .workflow_run_id)
check "the template node is rendering" test "$(sql "SELECT status FROM workflow_runs WHERE id = '$RUN'")" = running
t0=$(date +%s.%N)
jreq POST "/v1/workflows/tasks/$TASK/stop" "$KS" '{"user":"u1"}'
check "stop answers success" answered 200 '. == {"result":"success"}'
# poll (at most 20 s) for the run to end
for i in $(seq 400); do
	ST=$(sql "SELECT status FROM workflow_runs WHERE id = '$RUN'")
	[ "$ST" != running ] && break
	sleep 0.05
done
t1=$(date +%s.%N)
LAT=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
check "the run is stored stopped, $LAT s after the stop (bound 5 s)" \
    awk -v s="$ST" -v l="$LAT" 'BEGIN { exit !(s == "stopped" && l < 5) }'
# the stream ends by itself once the run has ended (kill it if it has not)
for i in $(seq 100); do gone "$SPID" && break; sleep 0.05; done
gone "$SPID" || kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
check "the stream ends with workflow_finished: stopped, 'Stopped by user.'" last_event '
    .event == "workflow_finished" and .data.status == "stopped" and .data.error == "Stopped by user."'
check "the template node's execution is stored failed with the run's error" \
    test "$(sql "SELECT status, error FROM workflow_node_executions WHERE workflow_run_id = '$RUN' AND node_id = 'tt'")" = "failed|Stopped by user."
check "the task is finished" test "$(sql "SELECT CAST(finished_at IS NOT NULL AS INTEGER), stop_requested FROM tasks WHERE id = '$TASK'")" = "1|1"
req GET "/v1/workflows/run/$RUN" "$KS"
check "the run detail says stopped" answered 200 '.status == "stopped" and .error == "Stopped by user."'
finish
