#!/bin/bash
# The http-request node through workflow.fcgi against a local test server
# (DIFYCGI_ALLOW_PRIVATE_URLS=1): methods, params, headers, every body
# type, api-key authorization, redirects, response headers, text and file
# responses, size and time limits, a non-2xx status with and without an
# error strategy, stop during a request; then, with private URLs refused,
# the SSRF rule.
. "$(dirname "$0")/../lib.sh"
plan 52
start_fake_upstream
export DIFYCGI_ALLOW_PRIVATE_URLS=1

# the test server: /echo answers the request it got as JSON
cat > "$T/srv.py" <<'EOF'
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, code, body, ctype="application/json", extra=()):
        if isinstance(body, str): body = body.encode()
        self.send_response(code)
        if ctype: self.send_header("Content-Type", ctype)
        for k, v in extra: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def any(self):
        u = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        q = parse_qs(u.query, keep_blank_values=True)
        p = u.path
        if p == "/echo":
            with open(sys.argv[1][:-5] + ".last", "a") as f:
                f.write("%s %s\n%s\n%s\n" % (self.command, self.path,
                        self.headers, raw.decode("utf-8", "replace")))
            return self.reply(200, json.dumps({"method": self.command,
                "query": u.query, "headers": {k.lower(): v for k, v in
                self.headers.items()}, "body": raw.decode("utf-8", "replace")}))
        if p.startswith("/status/"):
            return self.reply(int(p[8:]), "status " + p[8:], "text/plain")
        if p.startswith("/redirect/"):
            return self.reply(int(p[10:]), "", "text/plain",
                              [("Location", q.get("to", ["/echo"])[0])])
        if p == "/loop":
            return self.reply(302, "", "text/plain", [("Location", "/loop")])
        if p == "/file.png":
            return self.reply(200, PNG, "image/png")
        if p == "/attachment":
            return self.reply(200, "a,b\n1,2\n", "text/csv",
                [("Content-Disposition", 'attachment; filename="report.csv"')])
        if p == "/big":
            return self.reply(200, "x" * (2 * 1024 * 1024), "text/plain")
        if p == "/slow":
            open(sys.argv[1][:-5] + ".slow", "w").close()
            time.sleep(float(q.get("s", ["3"])[0]))
            return self.reply(200, "late", "text/plain")
        if p == "/latin1":
            return self.reply(200, b"caf\xe9", "text/plain; charset=iso-8859-1")
        if p == "/cookies":
            return self.reply(200, "ok", "text/plain",
                              [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return self.reply(404, "no", "text/plain")
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = any

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
open(sys.argv[1] + ".tmp", "w").write("%d\n" % srv.server_address[1])
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever(poll_interval=0.1)
EOF
python3 "$T/srv.py" "$T/ts.port" & PIDS="$PIDS $!"
for i in $(seq 200); do [ -s "$T/ts.port" ] && break; sleep 0.05; done
TPORT=$(cat "$T/ts.port")
TS="http://127.0.0.1:$TPORT"
start_server

# mk NAME HTTP_DATA [app options]: an app Start(q) -> HTTP -> End(all four
# outputs); KEY is its key
mk() {
	jq -n --argjson d "$2" '{nodes:[
	 {id:"start",data:{type:"start",title:"Start",variables:[
	  {variable:"q",label:"q",type:"text-input",required:false}]}},
	 {id:"http",data:({type:"http-request",title:"HTTP"} + $d)},
	 {id:"end",data:{type:"end",title:"End",outputs:[
	  {variable:"status_code",value_selector:["http","status_code"]},
	  {variable:"body",value_selector:["http","body"]},
	  {variable:"headers",value_selector:["http","headers"]},
	  {variable:"files",value_selector:["http","files"]}]}}],
	 edges:[{source:"start",target:"http",sourceHandle:"source"},
	  {source:"http",target:"end",sourceHandle:"source"}]}' > "$T/$1.json"
	n=$1; shift 2
	read -r _ KEY <<<"$(new_app workflow --provider fake --model echo --graph "$T/$n.json" "$@")"
}
run() {	# run Q [extra JSON members]: a blocking run of the last app
	jreq POST /v1/workflows/run "$KEY" "{\"inputs\":{\"q\":\"$1\"},\"user\":\"u1\"${2:+,$2}}"
}
echoed() { printf '%s' "$BODY" | jq -e ".data.outputs.body | fromjson | $1" >/dev/null 2>&1; }
last_node() {	# last_node TYPE COLUMN: of the newest execution of TYPE
	sql "SELECT $2 FROM workflow_node_executions WHERE node_type = '$1' ORDER BY created_at DESC, rowid DESC LIMIT 1"
}

# ---- the request ----
mk get "{\"method\":\"GET\",\"url\":\"$TS/echo?x=1\",
 \"params\":\"a:{{#start.q#}}\nb: two words\nb:again\",
 \"headers\":\"X-Test:{{#start.q#}}\nX-Empty\nAccept: text/plain\",
 \"authorization\":{\"type\":\"no-auth\"},\"body\":{\"type\":\"none\",\"data\":\"\"}}"
run 'hi there'
check "a GET run succeeds with status_code, body, headers and files" body_is '
    .data.status == "succeeded" and (.data.outputs | keys) == ["body","files","headers","status_code"]
    and .data.outputs.status_code == 200 and .data.outputs.files == []
    and .data.outputs.headers["content-type"] == "application/json"
    and (.data.outputs.headers | keys | all(. == ascii_downcase))'
check "params are added to the URL's query, duplicates kept, templates rendered" \
    echoed '.method == "GET" and .query == "x=1&a=hi+there&b=two+words&b=again"'
check "headers from key:value lines, templated, an empty value kept, no body" \
    echoed '.headers["x-test"] == "hi there" and .headers["x-empty"] == "" and .headers.accept == "text/plain"
    and .body == "" and (.headers | has("content-type") | not)'
check "process_data.request holds the raw request" \
    test "$(last_node http-request "$(jx process_data '$.request')")" = "$(printf 'GET /echo?x=1&a=hi+there&b=two+words&b=again HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nX-Test: hi there\r\nX-Empty: \r\nAccept: text/plain\r\n\r\n' "$TPORT")"

mk json "{\"method\":\"post\",\"url\":\"$TS/echo\",\"headers\":\"\",\"params\":\"\",
 \"authorization\":{\"type\":\"api-key\",\"config\":{\"type\":\"bearer\",\"api_key\":\"sk-{{#start.q#}}\"}},
 \"body\":{\"type\":\"json\",\"data\":[{\"id\":\"1\",\"key\":\"\",\"type\":\"text\",
 \"value\":\"{\\\"q\\\": \\\"{{#start.q#}}\\\", \\\"n\\\": [1, 2,],}\"}]}}"
run 'k1'
check "a json body: rendered, leniently repaired, sent as application/json" \
    echoed '.method == "POST" and (.body | fromjson) == {"q":"k1","n":[1,2]}
    and .headers["content-type"] == "application/json"'
check "api-key bearer: Authorization: Bearer <rendered key>" echoed '.headers.authorization == "Bearer sk-k1"'
REQ=$(sql "SELECT $(jx process_data '$.request') FROM workflow_node_executions WHERE node_type = 'http-request' ORDER BY rowid DESC LIMIT 1")
check "the key is masked in process_data.request" \
    grep -q '^Authorization: \*\{12\}' <<<"$REQ"

mk raw "{\"method\":\"put\",\"url\":\"$TS/echo\",
 \"authorization\":{\"type\":\"api-key\",\"config\":{\"type\":\"basic\",\"api_key\":\"user:{{#start.q#}}\"}},
 \"body\":{\"type\":\"raw-text\",\"data\":\"line one\n{{#start.q#}}\"}}"
run 'pw'
check "a raw-text body as text/plain (the legacy string form too)" \
    echoed '.method == "PUT" and .body == "line one\npw" and .headers["content-type"] == "text/plain"'
check "api-key basic: user:password base64-encoded" echoed '.headers.authorization == "Basic dXNlcjpwdw=="'

mk form "{\"method\":\"patch\",\"url\":\"$TS/echo\",
 \"authorization\":{\"type\":\"api-key\",\"config\":{\"type\":\"custom\",\"header\":\"X-Api-Key\",\"api_key\":\"abc\"}},
 \"body\":{\"type\":\"x-www-form-urlencoded\",\"data\":[{\"type\":\"text\",\"key\":\"a\",\"value\":\"1 2\"},
 {\"type\":\"text\",\"key\":\"b\",\"value\":\"{{#start.q#}}\"}]}}"
run 'é&x'
check "an x-www-form-urlencoded body" echoed '.method == "PATCH" and .body == "a=1+2&b=%C3%A9%26x"
    and .headers["content-type"] == "application/x-www-form-urlencoded"'
check "api-key custom: the key under the node's header" echoed '.headers["x-api-key"] == "abc" and (.headers | has("authorization") | not)'

# files: an uploaded text file reaches form-data and binary bodies
printf 'notes: plain text\n' > "$T/notes.txt"
cat > "$T/fu.json" <<'EOF'
{"file_upload":{"enabled":true,"allowed_file_types":["document","image"],
 "allowed_file_upload_methods":["local_file","remote_url"],"number_limits":3}}
EOF
mk multipart "{\"method\":\"post\",\"url\":\"$TS/echo\",
 \"body\":{\"type\":\"form-data\",\"data\":[{\"type\":\"text\",\"key\":\"who\",\"value\":\"{{#start.q#}}\"},
 {\"type\":\"file\",\"key\":\"doc\",\"file\":[\"sys\",\"files\"]}]}}" --config "$T/fu.json"
FID=$(curl -s -H "Authorization: Bearer $KEY" -F "file=@$T/notes.txt;type=text/plain" -F user=u1 "$BASE/v1/files/upload" | jq -r .id)
FILES="\"files\":[{\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$FID\"}]"
run 'me' "$FILES"
check "form-data: text fields and the uploaded file as parts, our boundary in the type" \
    echoed '(.headers["content-type"] | test("^multipart/form-data; boundary=----DifyFormBoundary[a-z0-5]{16}$"))
    and (.body | contains("Content-Disposition: form-data; name=\"who\"\r\n\r\nme\r\n"))
    and (.body | contains("name=\"doc\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nnotes: plain text\n\r\n"))'
mk multipart0 "{\"method\":\"post\",\"url\":\"$TS/echo\",
 \"body\":{\"type\":\"form-data\",\"data\":[{\"type\":\"text\",\"key\":\"who\",\"value\":\"x\"}]}}"
run ''
check "form-data without files sends Dify's placeholder part" \
    echoed '.body | contains("name=\"__multipart_placeholder__\"; filename=\"\"")'
# binary: the first of sys.files, picked by a list-operator
jq -n --arg url "$TS/echo" '{nodes:[
 {id:"start",data:{type:"start",title:"Start",variables:[]}},
 {id:"pick",data:{type:"list-operator",title:"Pick",variable:["sys","files"],
  filter_by:{enabled:true,conditions:[{key:"extension",comparison_operator:"is",value:".txt"}]},
  order_by:{enabled:false},limit:{enabled:true,size:1}}},
 {id:"http",data:{type:"http-request",title:"HTTP",method:"post",url:$url,
  body:{type:"binary",data:[{type:"file",file:["pick","first_record"]}]}}},
 {id:"end",data:{type:"end",title:"End",outputs:[{variable:"body",value_selector:["http","body"]}]}}],
 edges:[{source:"start",target:"pick",sourceHandle:"source"},{source:"pick",target:"http",sourceHandle:"source"},
  {source:"http",target:"end",sourceHandle:"source"}]}' > "$T/binary.json"
read -r _ KEY <<<"$(new_app workflow --provider fake --model echo --graph "$T/binary.json" --config "$T/fu.json")"
FID=$(curl -s -H "Authorization: Bearer $KEY" -F "file=@$T/notes.txt;type=text/plain" -F user=u1 "$BASE/v1/files/upload" | jq -r .id)
run '' "\"files\":[{\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$FID\"}]"
check "a binary body is the file's bytes, with no Content-Type of its own" \
    echoed '.body == "notes: plain text\n" and (.headers | has("content-type") | not)'

mk head "{\"method\":\"head\",\"url\":\"$TS/echo\"}"
run ''
check "HEAD: the status and headers, no body" body_is '.data.status == "succeeded"
    and .data.outputs.status_code == 200 and .data.outputs.body == ""
    and .data.outputs.headers["content-type"] == "application/json"'
mk delete "{\"method\":\"DELETE\",\"url\":\"$TS/echo\"}"
run ''
check "DELETE (any case of the method)" echoed '.method == "DELETE"'
mk badm "{\"method\":\"brew\",\"url\":\"$TS/echo\"}"
run ''
check "an unknown method fails the node" body_is '.data.status == "failed" and .data.error == "Invalid http method brew"'

# ---- redirects ----
mk r302 "{\"method\":\"post\",\"url\":\"$TS/redirect/302?to=/echo%3Fr%3D1\",\"body\":{\"type\":\"raw-text\",\"data\":\"b\"}}"
run ''
check "a 302 after a POST is followed as a GET without the body" \
    echoed '.method == "GET" and .query == "r=1" and .body == ""'
mk r307 "{\"method\":\"post\",\"url\":\"$TS/redirect/307?to=/echo\",\"body\":{\"type\":\"raw-text\",\"data\":\"kept\"},
 \"authorization\":{\"type\":\"api-key\",\"config\":{\"type\":\"bearer\",\"api_key\":\"k\"}}}"
run ''
check "a 307 keeps the method, the body and, on the same origin, the key" \
    echoed '.method == "POST" and .body == "kept" and .headers.authorization == "Bearer k"'
mk rx "{\"method\":\"get\",\"url\":\"$TS/redirect/302?to=http://localhost:$TPORT/echo\",
 \"authorization\":{\"type\":\"api-key\",\"config\":{\"type\":\"bearer\",\"api_key\":\"k\"}}}"
run ''
check "a redirect to another origin does not carry the key" \
    echoed '.method == "GET" and (.headers | has("authorization") | not)'
mk loop "{\"method\":\"get\",\"url\":\"$TS/loop\"}"
run ''
check "a redirect loop ends with an error" body_is '.data.status == "failed" and .data.error == "Exceeded maximum allowed redirects."'

# ---- responses ----
mk png "{\"method\":\"get\",\"url\":\"$TS/file.png\"}"
run ''
check "a binary response is a file: stored, body empty, a tool_file object" body_is '
    .data.status == "succeeded" and .data.outputs.body == "" and (.data.outputs.files | length) == 1
    and (.data.outputs.files[0] | .dify_model_identity == "__dify__file__" and .type == "image"
    and .transfer_method == "tool_file" and .filename == "file.png" and .extension == ".png"
    and .mime_type == "image/png" and .size == 1032 and (.related_id | length) == 36)'
FILE_ID=$(printf '%s' "$BODY" | jq -r '.data.outputs.files[0].related_id')
check "the file is stored for the app and the end user" \
    test "$(sql "SELECT name, size, mime_type, extension FROM upload_files WHERE id = '$FILE_ID'")" = "file.png|1032|image/png|png"
mk att "{\"method\":\"get\",\"url\":\"$TS/attachment\"}"
run ''
check "an attachment (Content-Disposition) is a file under its filename" body_is '
    .data.outputs.body == "" and .data.outputs.files[0].filename == "report.csv"
    and .data.outputs.files[0].type == "document" and .data.outputs.files[0].size == 8'
mk latin "{\"method\":\"get\",\"url\":\"$TS/latin1\"}"
run ''
check "text in the declared charset becomes UTF-8" body_is '.data.outputs.body == "café" and .data.outputs.files == []'
mk cookies "{\"method\":\"get\",\"url\":\"$TS/cookies\"}"
run ''
check "a header sent twice: one lower-case name, values joined" body_is '.data.outputs.headers["set-cookie"] == "a=1, b=2"'
mk big "{\"method\":\"get\",\"url\":\"$TS/big\"}"
run ''
check "text over 1 MB fails the node with Dify's message" body_is '.data.status == "failed"
    and .data.error == "Text size is too large, max size is 1.00 MB, but current size is 2.00 MB."'
mk slow "{\"method\":\"get\",\"url\":\"$TS/slow?s=5\",\"timeout\":{\"connect\":5,\"read\":1,\"write\":0}}"
t0=$(date +%s.%N)
run ''
t1=$(date +%s.%N)
check "the node's read timeout ends a silent server" body_is "
    .data.status == \"failed\" and .data.error == \"Request to $TS/slow?s=5 timed out: no data for 1 s (read timeout)\""
echo "# the read timeout took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
check "... before the server answers (5 s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 4.5) }'
mk refused "{\"method\":\"get\",\"url\":\"http://127.0.0.1:1/\"}"
run ''
check "a refused connection fails the node, naming the URL" body_is '.data.status == "failed"
    and (.data.error | startswith("Request to http://127.0.0.1:1/ failed: Could"))'

# ---- status codes ----
mk s404 "{\"method\":\"get\",\"url\":\"$TS/status/404\"}"
run ''
check "a 404 is a success without an error strategy or retry" body_is '.data.status == "succeeded"
    and .data.outputs.status_code == 404 and .data.outputs.body == "status 404"'
mk s500 "{\"method\":\"get\",\"url\":\"$TS/status/500\",\"error_strategy\":\"default-value\",
 \"default_value\":[{\"key\":\"body\",\"type\":\"string\",\"value\":\"fallback\"},
 {\"key\":\"status_code\",\"type\":\"number\",\"value\":0}]}"
run ''
check "with default-value, a 500 is an exception with the defaults" body_is '.data.status == "partial-succeeded"
    and .data.outputs.body == "fallback" and .data.outputs.status_code == 0'
check "... and the execution says HTTPResponseCodeError" \
    test "$(last_node http-request "status || '|' || error || '|' || $(jx outputs '$.error_type')")" = "exception|Request failed with status code 500|HTTPResponseCodeError"
cat > "$T/fb.json" <<EOF
{"nodes":[
 {"id":"start","data":{"type":"start","title":"Start","variables":[]}},
 {"id":"http","data":{"type":"http-request","title":"HTTP","method":"get","url":"$TS/status/503",
  "error_strategy":"fail-branch","retry_config":{"retry_enabled":true,"max_retries":1,"retry_interval":10}}},
 {"id":"ok","data":{"type":"end","title":"OK","outputs":[{"variable":"code","value_selector":["http","status_code"]}]}},
 {"id":"bad","data":{"type":"end","title":"Bad","outputs":[{"variable":"err","value_selector":["http","error_message"]}]}}],
 "edges":[{"source":"start","target":"http","sourceHandle":"source"},
  {"source":"http","target":"ok","sourceHandle":"source"},
  {"source":"http","target":"bad","sourceHandle":"fail-branch"}]}
EOF
read -r _ KEY <<<"$(new_app workflow --provider fake --model echo --graph "$T/fb.json")"
sse /v1/workflows/run "$KEY" '{"inputs":{},"user":"u1","response_mode":"streaming"}'
check "with retry and fail-branch, a 503 is retried, then the fail branch runs" \
    events_are "workflow_started node_started node_finished node_started node_retry node_finished text_chunk node_started node_finished workflow_finished"
check "... which ends with the error message" last_event '.data.outputs == {"err":"Request failed with status code 503"}
    and .data.status == "partial-succeeded"'
check "node_finished of the http node carries process_data.request" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -s -e '[.[] | select(.event == \"node_finished\" and .data.node_type == \"http-request\")][0].data.process_data.request | startswith(\"GET /status/503 HTTP/1.1\")' >/dev/null"

# ---- stop during a request ----
mk stop "{\"method\":\"get\",\"url\":\"$TS/slow?s=8\"}"
: > "$T/sse"
sse /v1/workflows/run "$KEY" '{"inputs":{"q":""},"user":"u1","response_mode":"streaming"}' &
SPID=$!
rm -f "$T/ts.slow"
# the request is in flight once the server has it
for i in $(seq 200); do [ -e "$T/ts.slow" ] && break; sleep 0.05; done
TASK=$(head -1 "$T/sse" | cut -d' ' -f2- | jq -r .task_id)
t0=$(date +%s.%N)
jreq POST "/v1/workflows/tasks/$TASK/stop" "$KEY" '{"user":"u1"}'
wait $SPID
t1=$(date +%s.%N)
echo "# the stop took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
check "a stop ends a run waiting on a slow server long before the server answers (8 s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 5) }'
check "... as stopped" last_event '.event == "workflow_finished" and .data.status == "stopped"'

# ---- issue 11: secret environment variables stay out of what is shown ----
# A secret reaches the server it is meant for, but every process_data,
# inputs, error, stored execution and log line shows it as Dify's
# SecretVariable.log does (encrypter.obfuscated_token: first 6 characters,
# stars, last 2), or all stars when that would show too much of it.
SECRET=sk-live-Zq7XJ2mB9pL4vR8tW1yN6cK3
SHORT=pw-Short-9
SECRET_LOG="sk-liv$(printf '*%.0s' $(seq 24))K3"
jq -n --arg s "$SECRET" --arg short "$SHORT" --arg ts "$TS" '{
 app:{name:"secretive",mode:"workflow"},
 workflow:{environment_variables:[
  {id:"1",name:"key",value_type:"secret",value:$s,description:""},
  {id:"2",name:"short",value_type:"secret",value:$short,description:""},
  {id:"3",name:"plain",value_type:"string",value:"not-a-secret",description:""}],
 graph:{nodes:[
  {id:"start",data:{type:"start",title:"Start",variables:[]}},
  {id:"http",data:{type:"http-request",title:"HTTP",method:"post",
   url:($ts + "/echo?k={{#env.key#}}"),
   headers:"X-Key:{{#env.key#}}\nX-Short:{{#env.short#}}\nX-Plain:{{#env.plain#}}",
   authorization:{type:"api-key",config:{type:"bearer",api_key:"{{#env.key#}}"}},
   body:{type:"raw-text",data:"key={{#env.key#}}"}}},
  {id:"down",data:{type:"http-request",title:"Down",method:"get",
   url:"http://127.0.0.1:1/?k={{#env.key#}}",
   retry_config:{retry_enabled:true,max_retries:1,retry_interval:10},
   error_strategy:"default-value",default_value:[{key:"status_code",type:"number",value:0}]}},
  {id:"end",data:{type:"end",title:"End",outputs:[
   {variable:"a",value_selector:["http","status_code"]},
   {variable:"b",value_selector:["down","status_code"]}]}}],
 edges:[{id:"e1",source:"start",target:"http"},{id:"e2",source:"http",target:"down"},
  {id:"e3",source:"down",target:"end"}]}}}' > "$T/secret.yml"
SID=$("$ADMIN" app import "$T/secret.yml")
KEY=$("$ADMIN" key create "$SID")
: > "$T/ts.last"
sse /v1/workflows/run "$KEY" '{"inputs":{},"user":"u1","response_mode":"streaming"}'
check "the secrets reached the server they were meant for" bash -c "
    grep -qF 'X-Key: $SECRET' '$T/ts.last' && grep -qF 'X-Short: $SHORT' '$T/ts.last'"
check "a streamed run with a node_retry" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -r .event | grep -qx node_retry"
check "no streamed event carries a secret (process_data, inputs, errors, retries)" \
    bash -c "! grep -qF -e '$SECRET' -e '$SHORT' '$T/sse'"
# request NODE_ID EVENT: process_data.request of the node's first EVENT
request() {
	cut -d' ' -f2- "$T/sse" | jq -s -r --arg ev "$2" --arg id "$1" \
	    '[.[] | select(.event == $ev and .data.node_id == $id)][0].data.process_data.request'
}
request http node_finished > "$T/request"
check "process_data.request shows a long secret as Dify's obfuscated token" \
    grep -qxF "$(printf 'X-Key: %s\r' "$SECRET_LOG")" "$T/request"
check "a short secret all stars, a plain variable as it is" bash -c "
    grep -qxF \"\$(printf 'X-Short: **********\r')\" '$T/request' &&
    grep -qxF \"\$(printf 'X-Plain: not-a-secret\r')\" '$T/request'"
check "the secret in the URL and the body is masked the same way" bash -c "
    grep -qF 'POST /echo?k=$SECRET_LOG HTTP/1.1' '$T/request' && grep -qF 'key=$SECRET_LOG' '$T/request'"
check "node_retry's process_data and error show the masked form" \
    bash -c "cut -d' ' -f2- '$T/sse' | jq -s -e --arg m '$SECRET_LOG' '[.[] | select(.event == \"node_retry\")][0].data
    | (.process_data.request | contains(\"?k=\" + \$m)) and (.error | startswith(\"Request to http://127.0.0.1:1/?k=\" + \$m + \" failed\"))' >/dev/null"
jreq POST /v1/workflows/run "$KEY" '{"inputs":{},"user":"u1","response_mode":"blocking"}'
RID=$(printf '%s' "$BODY" | jq -r .workflow_run_id)
check "a blocking run answers without a secret" \
    bash -c "[ '$STATUS' = 200 ] && ! grep -qF -e '$SECRET' -e '$SHORT' '$T/body'"
req GET "/v1/workflows/run/$RID" "$KEY"
check "the stored run (GET /workflows/run/{id}) has no secret" \
    bash -c "[ '$STATUS' = 200 ] && ! grep -qF -e '$SECRET' -e '$SHORT' '$T/body'"
req GET "/v1/workflows/logs?limit=100" "$KEY"
check "nor do /workflows/logs" \
    bash -c "[ '$STATUS' = 200 ] && ! grep -qF -e '$SECRET' -e '$SHORT' '$T/body'"
sql "SELECT * FROM workflow_runs; SELECT * FROM workflow_node_executions" > "$T/runs.txt"
check "no stored run or node execution holds a secret, the masked form instead" \
    bash -c "! grep -qF -e '$SECRET' -e '$SHORT' '$T/runs.txt' && grep -qF '$SECRET_LOG' '$T/runs.txt'"
check "and the server's logs hold none" \
    bash -c "! grep -rqF -e '$SECRET' -e '$SHORT' '$T/srv'"

# ---- SSRF: private addresses refused unless allowed ----
stop_server
unset DIFYCGI_ALLOW_PRIVATE_URLS
start_server
mk ssrf "{\"method\":\"get\",\"url\":\"$TS/echo\"}"
run ''
check "with private URLs refused, a loopback URL fails the node before any request" body_is "
    .data.status == \"failed\" and .data.error == \"Request to $TS/echo failed: the host 127.0.0.1 is or resolves to a loopback, private, link-local or reserved address (127.0.0.1); such URLs are not fetched\""
mk ssrf2 "{\"method\":\"get\",\"url\":\"http://localhost:$TPORT/echo\"}"
run ''
check "... so does a name that resolves to one" body_is '.data.status == "failed" and (.data.error | contains("failed: the host localhost is or resolves to a loopback"))'
finish
