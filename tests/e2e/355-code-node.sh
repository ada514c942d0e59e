#!/bin/bash
# The code node through lighttpd: Start -> Code (python3) -> Code
# (javascript) -> End with typed outputs, blocking and streaming; a failing
# node (its traceback as the error, retries, a default value), the time
# limit, a stop while the code runs; a data directory directly under /
# hidden from the code; and the fixtures that use code
# (dify-iteration-flatten, dify-parallel-code, svcvit-couplet) imported
# with dify-admin app import and run.  As a service user: 356-code-node-nonroot.
. "$(dirname "$0")/../lib.sh"
plan 20
FIX="$FIXTURES"
export DIFYCGI_CODE_TIMEOUT_MS=3000

# wait_for SECONDS COMMAND...: poll until the command succeeds
wait_for() {
	_n=$(($1 * 20)); shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	return 1
}

# the data directory at the root of the file system, as /data or /srv
# would be (the database stays in $T); removed on exit
DD=$(mktemp -d /difycgi-test-XXXXXX) || exit 1
trap '_s=$?; rm -rf "$DD"; (exit $_s); cleanup' EXIT
echo secret > "$DD/secret"
export DIFYCGI_DATA_DIR="$DD"

# a provider whose model answers the couplet fixture's JSON, streamed or not
cat > "$T/couplet.py" <<'EOF'
import http.server, json, sys
TEXT = 'Here it is:\n' + json.dumps({"top": "春回大地千山秀",
    "bottom": "福满人间万户欢", "banner": "万象更新"}, ensure_ascii=False)
USAGE = {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n) or b"{}")
        head = {"id": "c1", "created": 0, "model": body.get("model")}
        self.send_response(200)
        if not body.get("stream"):
            data = json.dumps(dict(head, object="chat.completion", choices=[
                {"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": TEXT}}], usage=USAGE)).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for delta, fin in (({"content": TEXT[:9]}, None),
                           ({"content": TEXT[9:]}, None), ({}, "stop")):
            ev = dict(head, object="chat.completion.chunk", choices=[
                {"index": 0, "delta": delta, "finish_reason": fin}])
            if fin:
                ev["usage"] = USAGE
            self.wfile.write(b"data: " + json.dumps(ev).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
python3 "$T/couplet.py" "$T/couplet.port" &
PIDS="$PIDS $!"
wait_for 20 test -s "$T/couplet.port" || {
	echo "Bail out! the couplet provider did not start"; exit 1; }
export DIFYCGI_PROVIDER_TONGYI_BASE_URL="http://127.0.0.1:$(cat "$T/couplet.port")/v1"
start_fake_upstream
start_server

# ---- Start -> Code (python3) -> Code (javascript) -> End ----
cat > "$T/chain.json" <<'EOF'
{"nodes":[
 {"id":"start","data":{"type":"start","title":"Start","variables":[
  {"variable":"name","label":"Name","type":"text-input","required":true,"max_length":50},
  {"variable":"n","label":"N","type":"number","required":true}]}},
 {"id":"py","data":{"type":"code","title":"Python","code_language":"python3",
  "code":"import json\n\ndef main(name: str, n: int) -> dict:\n    return {\n        \"greeting\": \"Hello, \" + name,\n        \"items\": [n, n * 2, n * 3],\n        \"info\": {\"length\": len(name), \"upper\": name.upper()},\n    }\n",
  "variables":[{"variable":"name","value_selector":["start","name"]},
   {"variable":"n","value_selector":["start","n"]}],
  "outputs":{"greeting":{"type":"string","children":null},
   "items":{"type":"array[number]","children":null},
   "info":{"type":"object","children":{"length":{"type":"number","children":null},
    "upper":{"type":"string","children":null}}}}}},
 {"id":"js","data":{"type":"code","title":"JavaScript","code_language":"javascript",
  "code":"function main({greeting, items, info}) {\n    var sum = 0;\n    for (var i = 0; i < items.length; i++) sum += items[i];\n    return {text: greeting + '!', sum: sum, long: info.length > 3,\n        tags: [info.upper, 'js']};\n}\n",
  "variables":[{"variable":"greeting","value_selector":["py","greeting"]},
   {"variable":"items","value_selector":["py","items"]},
   {"variable":"info","value_selector":["py","info"]}],
  "outputs":{"text":{"type":"string","children":null},"sum":{"type":"number","children":null},
   "long":{"type":"boolean","children":null},"tags":{"type":"array[string]","children":null}}}},
 {"id":"end","data":{"type":"end","title":"End","outputs":[
  {"variable":"text","value_selector":["js","text"]},
  {"variable":"sum","value_selector":["js","sum"]},
  {"variable":"long","value_selector":["js","long"]},
  {"variable":"tags","value_selector":["js","tags"]},
  {"variable":"info","value_selector":["py","info"]}]}}],
 "edges":[{"source":"start","target":"py"},{"source":"py","target":"js"},
  {"source":"js","target":"end"}]}
EOF
read -r A KA <<<"$(new_app workflow --provider fake --model echo --graph "$T/chain.json")"
jreq POST /v1/workflows/run "$KA" '{"inputs":{"name":"Ada","n":2},"user":"u1"}'
check "python then javascript: the End has their typed outputs" body_is '
    .data.status == "succeeded" and .data.error == null and .data.total_steps == 4
    and .data.outputs == {"text":"Hello, Ada!","sum":12,"long":false,"tags":["ADA","js"],
    "info":{"length":3,"upper":"ADA"}}'
RID=$(printf '%s' "$BODY" | jq -r .workflow_run_id)
check "both code executions are stored with their inputs and outputs" \
    test "$(sql "SELECT node_id || ':' || status || ':' || $(jx inputs '$.name') || ':' || $(jx outputs '$.greeting') FROM workflow_node_executions WHERE workflow_run_id = '$RID' AND node_type = 'code' AND node_id = 'py'")" = "py:succeeded:Ada:Hello, Ada" -a \
    "$(sql "SELECT $(jx inputs '$.items') || $(jx outputs '$.sum') FROM workflow_node_executions WHERE workflow_run_id = '$RID' AND node_id = 'js'")" = "[2,4,6]12"
sse /v1/workflows/run "$KA" '{"inputs":{"name":"Grace","n":1},"user":"u1","response_mode":"streaming"}'
ev() { cut -d' ' -f2- "$T/sse" | grep -v '^ping$' | jq -s "$1"; }
evok() { [ "$(ev "$1")" = true ]; }
check "streaming: each code node has node_started and node_finished (succeeded)" evok '
    [.[] | select(.event == "node_finished") | .data | .node_id + ":" + .status]
    == ["start:succeeded","py:succeeded","js:succeeded","end:succeeded"]
    and ([.[] | select(.event == "node_started") | .data.node_type] == ["start","code","code","end"])'
check "streaming: the python node_finished has the inputs, outputs, no error" evok '
    [.[] | select(.event == "node_finished" and .data.node_id == "py") | .data][0]
    | .inputs == {"name":"Grace","n":1} and .error == null
    and .outputs == {"greeting":"Hello, Grace","items":[1,2,3],"info":{"length":5,"upper":"GRACE"}}'
check "streaming: workflow_finished carries the End's outputs" last_event '
    .event == "workflow_finished" and .data.status == "succeeded"
    and .data.outputs == {"text":"Hello, Grace!","sum":6,"long":true,"tags":["GRACE","js"],
    "info":{"length":5,"upper":"GRACE"}}'

# ---- failures: the sandbox's text, retries, a default value, limits ----
graph1() {	# graph1 FILE CODE [EXTRA_DATA]: Start -> Code (python3) -> End(x)
	jq -n --arg code "$2" --argjson extra "${3:-{\}}" '{"nodes":[
	 {"id":"start","data":{"type":"start","title":"Start","variables":[]}},
	 {"id":"code","data":({"type":"code","title":"Code","code_language":"python3",
	  "code":$code,"variables":[],"outputs":{"x":{"type":"string","children":null}}} + $extra)},
	 {"id":"end","data":{"type":"end","title":"End","outputs":[
	  {"variable":"x","value_selector":["code","x"]}]}}],
	 "edges":[{"source":"start","target":"code"},{"source":"code","target":"end"}]}' > "$1"
}
graph1 "$T/fail.json" $'def main():\n    return {"x": str(1 / 0)}'
read -r F KF <<<"$(new_app workflow --provider fake --model echo --graph "$T/fail.json")"
jreq POST /v1/workflows/run "$KF" '{"inputs":{},"user":"u1"}'
check "a failing main() fails the run with its traceback and exit status" body_is '
    .data.status == "failed" and (.data.error | startswith("Traceback (most recent call last):"))
    and (.data.error | contains("ZeroDivisionError: division by zero\nerror: exit status 1"))'
RID=$(printf '%s' "$BODY" | jq -r .workflow_run_id)
check "the failed execution is stored with the same error" \
    test "$(sql "SELECT status, CAST(error LIKE '%ZeroDivisionError%' AS INTEGER) FROM workflow_node_executions WHERE workflow_run_id = '$RID' AND node_id = 'code'")" = "failed|1"

graph1 "$T/retry.json" $'def main():\n    return {"x": 1}' \
    '{"retry_config":{"retry_enabled":true,"max_retries":2,"retry_interval":10}}'
read -r R KR <<<"$(new_app workflow --provider fake --model echo --graph "$T/retry.json")"
sse /v1/workflows/run "$KR" '{"inputs":{},"user":"u1","response_mode":"streaming"}'
check "a wrong output type is retried: node_retry twice, then failed with Dify's message" evok '
    ([.[] | select(.event == "node_retry") | .data.retry_index] == [1,2])
    and ([.[] | select(.event == "node_finished" and .data.node_id == "code")][0].data
    | .status == "failed" and .error == "Output x must be a string, got int instead")'

graph1 "$T/dflt.json" $'def main():\n    raise ValueError("no")' \
    '{"error_strategy":"default-value","default_value":[{"key":"x","type":"string","value":"fallback"}]}'
read -r D KD <<<"$(new_app workflow --provider fake --model echo --graph "$T/dflt.json")"
sse /v1/workflows/run "$KD" '{"inputs":{},"user":"u1","response_mode":"streaming"}'
check "with default-value the node ends in exception with CodeExecutionError and the default" evok '
    ([.[] | select(.event == "node_finished" and .data.node_id == "code")][0].data
    | .status == "exception" and .outputs.x == "fallback"
    and .outputs.error_type == "CodeExecutionError" and (.outputs.error_message | contains("ValueError: no")))
    and .[-1].data.status == "partial-succeeded" and .[-1].data.outputs == {"x":"fallback"}'

graph1 "$T/loop.json" $'def main():\n    while True:\n        pass'
read -r L KL <<<"$(new_app workflow --provider fake --model echo --graph "$T/loop.json")"
t0=$(date +%s.%N)
jreq POST /v1/workflows/run "$KL" '{"inputs":{},"user":"u1"}'
t1=$(date +%s.%N)
check "an endless loop ends at DIFYCGI_CODE_TIMEOUT_MS (3 s) with dify-sandbox's words" body_is '
    .data.status == "failed" and .data.error == "error: timeout\nerror: signal: killed\n"'
check "... not before it, and well before the default 10 s ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 2.9 && b - a < 9) }'

graph1 "$T/net.json" $'import socket\ndef main():\n    socket.create_connection(("127.0.0.1", '"$PORT"$'), 1)\n    return {"x": "connected"}'
read -r N KN <<<"$(new_app workflow --provider fake --model echo --graph "$T/net.json")"
jreq POST /v1/workflows/run "$KN" '{"inputs":{},"user":"u1"}'
check "python cannot reach the server's own port" body_is '
    .data.status == "failed" and (.data.error | contains("PermissionError: [Errno 1] Operation not permitted"))'
if [ "$(db_backend)" = postgresql ]; then
	# the database is a server here: its socket is what the code must not reach
	graph1 "$T/db.json" $'import socket\ndef main():\n    socket.socket(socket.AF_UNIX).connect("'"$PGHOST/.s.PGSQL.$PGPORT"$'")\n    return {"x": "connected"}'
	read -r B KB <<<"$(new_app workflow --provider fake --model echo --graph "$T/db.json")"
	jreq POST /v1/workflows/run "$KB" '{"inputs":{},"user":"u1"}'
	check "python cannot reach the database's socket" body_is '
	    .data.status == "failed" and (.data.error | contains("PermissionError: [Errno 1] Operation not permitted"))'
else
	graph1 "$T/db.json" $'def main():\n    return {"x": open("'"$DIFYCGI_DB"$'", "rb").read(15).decode()}'
	read -r B KB <<<"$(new_app workflow --provider fake --model echo --graph "$T/db.json")"
	jreq POST /v1/workflows/run "$KB" '{"inputs":{},"user":"u1"}'
	check "python cannot read the database" body_is '
	    .data.status == "failed" and (.data.error | test("(PermissionError|FileNotFoundError): \\[Errno"))
	    and (.data.error | contains("SQLite") | not)'
fi
graph1 "$T/dd.json" $'import os\ndef main():\n    return {"x": str(os.stat("'"$DD"$'/secret").st_size)}'
read -r H KH <<<"$(new_app workflow --provider fake --model echo --graph "$T/dd.json")"
jreq POST /v1/workflows/run "$KH" '{"inputs":{},"user":"u1"}'
check "a data directory directly under / ($DD) is hidden from the code: no such file" body_is '
    .data.status == "failed" and (.data.error | contains("FileNotFoundError: [Errno 2]"))'

# ---- a stop while the code runs ----
cat > "$T/slow.json" <<'EOF'
{"nodes":[{"id":"start","data":{"type":"start","title":"Start","variables":[]}},
 {"id":"code","data":{"type":"code","title":"Code","code_language":"javascript",
  "code":"function main() { for (;;) {} }","variables":[],"outputs":{}}},
 {"id":"end","data":{"type":"end","title":"End","outputs":[]}}],
 "edges":[{"source":"start","target":"code"},{"source":"code","target":"end"}]}
EOF
read -r S KS <<<"$(new_app workflow --provider fake --model echo --graph "$T/slow.json")"
: > "$T/sse"
sse /v1/workflows/run "$KS" '{"inputs":{},"user":"u1","response_mode":"streaming"}' &
SPID=$!
wait_for 20 grep -q '"node_type":"code"' "$T/sse"
TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
t0=$(date +%s.%N)
jreq POST "/v1/workflows/tasks/$TASK/stop" "$KS" '{"user":"u1"}'
wait $SPID
t1=$(date +%s.%N)
check "a stop ends the run while javascript loops, before its 3 s limit would ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 3) }'
check "the stream ends with workflow_finished: stopped" last_event '
    .event == "workflow_finished" and .data.status == "stopped" and .data.error == "Stopped by user."'

# ---- fixtures that use code, imported as Dify exports them ----
if [ ! -d "$FIX" ] || ! "$ADMIN" app import --help >/dev/null 2>&1; then
	for f in dify-iteration-flatten "dify-parallel-code, switch 1" \
	    "dify-parallel-code, switch 0" svcvit-couplet; do
		not_ok "$f: no fixtures in $FIX or no dify-admin app import"
	done
	finish
	exit
fi
imp() {	# imp NAME: import fixture NAME; sets KEY
	KEY=$("$ADMIN" app import "$FIX/$1.yml" --key 2>/dev/null | tail -1)
}
imp dify-iteration-flatten
jreq POST /v1/workflows/run "$KEY" '{"inputs":{},"user":"u1"}'
check "dify-iteration-flatten: {output: [1,2,2,4,3,6]}" body_is '
    .data.status == "succeeded" and .data.outputs == {"output":[1,2,2,4,3,6]}'
imp dify-parallel-code
jreq POST /v1/workflows/run "$KEY" '{"inputs":{"switch":1},"user":"u1"}'
check "dify-parallel-code, switch 1: Code 1 and Code 2 ran" body_is '
    .data.status == "succeeded" and .data.outputs == {"1":"Code 1","2":"Code 2","3":null}'
jreq POST /v1/workflows/run "$KEY" '{"inputs":{"switch":0},"user":"u1"}'
check "dify-parallel-code, switch 0: Code 2 and Code 3 ran" body_is '
    .data.status == "succeeded" and .data.outputs == {"1":null,"2":"Code 2","3":"Code 3"}'
imp svcvit-couplet
jreq POST /v1/workflows/run "$KEY" '{"inputs":{"theme":"新年","count":"七言"},"user":"u1"}'
check "svcvit-couplet: python parses the LLM's JSON; the template shows it, banner reversed" body_is '
    .data.status == "succeeded" and (.data.outputs.output | contains("新更象万")
    and contains("春回大地千山秀") and contains("福满人间万户欢"))'
finish
