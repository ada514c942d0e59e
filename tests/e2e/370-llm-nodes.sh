#!/bin/bash
# question-classifier, parameter-extractor, agent, tool, list-operator,
# document-extractor and knowledge-retrieval nodes through workflow.fcgi
# and chat.fcgi with the fake upstream (models classify, extract,
# tool-call, echo) and a local server for remote files; then the DSL
# fixtures that use them, imported with dify-admin app import and run.
. "$(dirname "$0")/../lib.sh"
plan 50
start_fake_upstream
export DIFYCGI_ALLOW_PRIVATE_URLS=1
# the fixtures' providers answer from the fake upstream
for p in OPENAI DEEPSEEK TONGYI OLLAMA VOLCENGINE_MAAS BEDROCK; do
	export "DIFYCGI_PROVIDER_${p}_BASE_URL=$DIFYCGI_PROVIDER_FAKE_BASE_URL"
done
export DIFYCGI_PROVIDER_OPENAI_MODEL=classify DIFYCGI_PROVIDER_DEEPSEEK_MODEL=classify
export DIFYCGI_PROVIDER_BEDROCK_MODEL=classify
export DIFYCGI_PROVIDER_TONGYI_MODEL=gpt-test DIFYCGI_PROVIDER_OLLAMA_MODEL=echo
export DIFYCGI_PROVIDER_VOLCENGINE_MAAS_MODEL=extract

cat > "$T/srv.py" <<'EOF'
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, body, ctype):
        body = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        self.reply("Remote document text.\n", "text/plain")
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        card = json.loads(self.rfile.read(n))
        self.reply(json.dumps({"code": 0, "data": {"image_url":
            "http://img.test/card-%d.png" % len(card["texts"])}}),
            "application/json")

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
open(sys.argv[1] + ".tmp", "w").write("%d\n" % srv.server_address[1])
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever(poll_interval=0.1)
EOF
serve_py "$T/srv.py" || { not_ok "the local server starts"; exit 1; }
start_server

app() {	# app NAME GRAPH_JSON [options]: KEY of a new workflow app
	printf '%s' "$2" > "$T/$1.json"
	n=$1; shift 2
	read -r _ KEY <<<"$(new_app workflow --provider fake --model echo --graph "$T/$n.json" "$@")"
}
run() {	# run INPUTS [extra JSON members]
	jreq POST /v1/workflows/run "$KEY" "{\"inputs\":$1,\"user\":\"u1\"${2:+,$2}}"
}
node() {	# node TYPE COLUMN: of the newest execution of that type
	sql "SELECT $2 FROM workflow_node_executions WHERE node_type = '$1' ORDER BY rowid DESC LIMIT 1"
}
node_json() {	# node_json TYPE COLUMN JQ: JQ holds on that JSON column
	node "$1" "$2" | jq -e "$3" >/dev/null 2>&1
}
upload() {	# upload FILE MIME: the id of an upload by u1 to the app of KEY
	curl -s -H "Authorization: Bearer $KEY" -F "file=@$1;type=$2" -F user=u1 "$BASE/v1/files/upload" | jq -r .id
}
START='{"id":"start","data":{"type":"start","title":"Start","variables":[{"variable":"q","label":"q","type":"paragraph","required":false}]}}'
E() { printf '{"source":"%s","target":"%s","sourceHandle":"%s"}' "$1" "$2" "${3:-source}"; }
END1() { printf '{"id":"%s","data":{"type":"end","title":"%s","outputs":[{"variable":"%s","value_selector":%s}]}}' "$1" "$1" "$2" "$3"; }

# ---- question-classifier ----
QC='{"id":"qc","data":{"type":"question-classifier","title":"QC","query_variable_selector":["start","q"],
 "model":{"provider":"fake","name":"classify","mode":"chat","completion_params":{}},
 "instruction":"Route {{#start.q#}}","classes":[{"id":"c-bill","name":"Billing question"},
 {"id":"c-tech","name":"Technical problem"},{"id":"c-other","name":"Anything else"}]}}'
app qc "{\"nodes\":[$START,$QC,$(END1 bill class '["qc","class_name"]'),$(END1 tech id '["qc","class_id"]'),
 $(END1 other q '["start","q"]')],\"edges\":[$(E start qc),$(E qc bill c-bill),$(E qc tech c-tech),$(E qc other c-other)]}"
run '{"q":"my printer has a technical problem"}'
check "question-classifier: the class the model names is the branch taken" body_is '
    .data.status == "succeeded" and .data.outputs == {"id":"c-tech"} and .data.total_steps == 3'
check "its outputs are class_name, class_id and usage; inputs the query" \
    test "$(node question-classifier "$(jx outputs '$.class_name') || '|' || $(jx outputs '$.class_id') || '|' || CAST($(jn outputs '$.usage.total_tokens') > 0 AS INTEGER) || '|' || $(jx inputs '$.query')")" = "Technical problem|c-tech|1|my printer has a technical problem"
check "the model got Dify's structure: system, two examples, then input_text, categories and instructions" bash -c "
    tail -1 '$T/fake.log' | jq -e '(.messages | map(.role)) == [\"system\",\"user\",\"assistant\",\"user\",\"assistant\",\"user\"]
    and (.messages[5].content | fromjson) == {input_text: [\"my printer has a technical problem\"],
    categories: [{category_id: \"c-bill\", category_name: \"Billing question\"}, {category_id: \"c-tech\", category_name: \"Technical problem\"},
    {category_id: \"c-other\", category_name: \"Anything else\"}], classification_instructions: [\"Route my printer has a technical problem\"]}
    and (has(\"tools\") | not)' >/dev/null"
run '{"q":"a question about my bill"}'
check "another query takes another branch" body_is '.data.outputs == {"class":"Billing question"}'
run '{"q":"zzz"}'
check "an answer naming no class takes the first class" body_is '.data.outputs == {"class":"Billing question"}'
sse /v1/workflows/run "$KEY" '{"inputs":{"q":"anything else?"},"user":"u1","response_mode":"streaming"}'
check "streaming: the classifier sends no text chunks, untaken branches no events" \
    events_are "workflow_started node_started node_finished node_started node_finished text_chunk node_started node_finished workflow_finished"
check "... and the End streams the query" last_event '.data.outputs == {"q":"anything else?"}'

# ---- parameter-extractor ----
PE() { printf '{"id":"pe","data":{"type":"parameter-extractor","title":"PE","query":["start","q"],"reasoning_mode":"%s",
 "model":{"provider":"fake","name":"extract","mode":"chat","completion_params":{}},"instruction":"Extract the trip.",
 "parameters":[{"name":"city","type":"string","description":"the city","required":true},
 {"name":"days","type":"number","description":"how many days","required":false},
 {"name":"mode","type":"select","options":["train","plane"],"description":"how"},
 {"name":"tags","type":"array[string]","description":"tags"}]}}' "$1"; }
END_PE='{"id":"end","data":{"type":"end","title":"End","outputs":[{"variable":"city","value_selector":["pe","city"]},
 {"variable":"days","value_selector":["pe","days"]},{"variable":"mode","value_selector":["pe","mode"]},
 {"variable":"tags","value_selector":["pe","tags"]},{"variable":"ok","value_selector":["pe","__is_success"]},
 {"variable":"why","value_selector":["pe","__reason"]}]}}'
app pefc "{\"nodes\":[$START,$(PE function_call),$END_PE],\"edges\":[$(E start pe),$(E pe end)]}"
run '{"q":"city: Lyon, days: 4, mode: train"}'
check "parameter-extractor (function calling): the tool call's arguments, typed" body_is '
    .data.status == "succeeded" and .data.outputs == {"city":"Lyon","days":4,"mode":"train","tags":["sample tags"],"ok":1,"why":null}'
check "the model was offered extract_parameters with the parameters' JSON schema" bash -c "
    tail -1 '$T/fake.log' | jq -e '.tools[0].function.name == \"extract_parameters\"
    and .tools[0].function.parameters == {type: \"object\", properties: {city: {description: \"the city\", type: \"string\"},
    days: {description: \"how many days\", type: \"number\"}, mode: {description: \"how\", type: \"string\", enum: [\"train\",\"plane\"]},
    tags: {description: \"tags\", type: \"array\", items: {type: \"string\"}}}, required: [\"city\"]}
    and (.messages[-1].content | contains(\"<context>\ncity: Lyon, days: 4, mode: train\n</context>\"))' >/dev/null"
check "its process_data keeps the function and the tool call; outputs __usage" \
    test "$(node parameter-extractor "$(jx process_data '$.function.name') || '|' || $(jx process_data '$.tool_call.function.name') || '|' || CAST($(jn outputs '$.__usage.total_tokens') > 0 AS INTEGER)")" = "extract_parameters|extract_parameters|1"
run '{"q":"city: Nice, mode: bike"}'
check "a select value outside its options: __is_success 0 with Dify's reason, values kept" body_is '
    .data.outputs.ok == 0 and .data.outputs.why == "Invalid `select` value for parameter mode"
    and .data.outputs.city == "Nice" and .data.outputs.mode == "bike" and .data.outputs.days == 42'
app pep "{\"nodes\":[$START,$(PE prompt),$END_PE],\"edges\":[$(E start pe),$(E pe end)]}"
run '{"q":"city: Oslo, days: 2"}'
check "parameter-extractor (prompt mode): JSON read from the answer text" body_is '
    .data.outputs == {"city":"Oslo","days":2,"mode":"train","tags":["sample tags"],"ok":1,"why":null}'
check "... the model saw <structure> and <text>, no tools" bash -c "
    tail -1 '$T/fake.log' | jq -e '(has(\"tools\") | not) and (.messages[-1].content | contains(\"<text>\ncity: Oslo, days: 2\n</text>\"))
    and (.messages[-1].content | contains(\"<structure>\"))' >/dev/null"
app pebad "{\"nodes\":[$START,$(PE function_call | sed 's/"name":"extract"/"name":"err-500"/'),$END_PE],\"edges\":[$(E start pe),$(E pe end)]}"
run '{"q":"x"}'
check "a model failure fails the node with __is_success 0" body_is '.data.status == "failed" and (.data.error | startswith("[fake]"))'
check "... its outputs say why" test "$(node parameter-extractor "$(jx outputs '$.__is_success') || '|' || status")" = "0|failed"

# ---- tool and agent ----
app tool "{\"nodes\":[$START,
 {\"id\":\"t1\",\"data\":{\"type\":\"tool\",\"title\":\"Time\",\"provider_id\":\"time\",\"provider_type\":\"builtin\",
  \"tool_name\":\"current_time\",\"tool_configurations\":{},\"tool_parameters\":{\"format\":{\"type\":\"constant\",\"value\":\"%Y\"}}}},
 {\"id\":\"t2\",\"data\":{\"type\":\"tool\",\"title\":\"JSON\",\"provider_id\":\"langgenius/json_process/json_process\",
  \"provider_type\":\"builtin\",\"tool_name\":\"json_parse\",\"tool_configurations\":{},
  \"tool_parameters\":{\"content\":{\"type\":\"variable\",\"value\":[\"start\",\"q\"]},\"json_filter\":{\"type\":\"mixed\",\"value\":\"a.b\"}}}},
 {\"id\":\"end\",\"data\":{\"type\":\"end\",\"title\":\"End\",\"outputs\":[{\"variable\":\"year\",\"value_selector\":[\"t1\",\"text\"]},
  {\"variable\":\"b\",\"value_selector\":[\"t2\",\"text\"]},{\"variable\":\"json\",\"value_selector\":[\"t2\",\"json\"]},
  {\"variable\":\"files\",\"value_selector\":[\"t2\",\"files\"]}]}}],
 \"edges\":[$(E start t1),$(E t1 t2),$(E t2 end)]}"
run '{"q":"{\"a\":{\"b\":\"deep\"}}"}'
check "tool nodes: built-in tools with constant, variable and mixed inputs; text, files and json" body_is "
    .data.status == \"succeeded\" and .data.outputs == {\"year\":\"$(date -u +%Y) UTC\",\"b\":\"deep\",\"json\":[{\"data\":[]}],\"files\":[]}"
check "the tool's inputs and tool_info are kept" \
    test "$(node tool "$(jx inputs '$.json_filter') || '|' || $(jx execution_metadata '$.tool_info.provider_id')")" = "a.b|langgenius/json_process/json_process"
app notool "{\"nodes\":[$START,{\"id\":\"t\",\"data\":{\"type\":\"tool\",\"title\":\"Search\",\"provider_id\":\"duckduckgo\",
 \"tool_name\":\"ddgo_search\",\"tool_parameters\":{}}},$(END1 end t '["t","text"]')],\"edges\":[$(E start t),$(E t end)]}"
run '{"q":"x"}'
check "an unknown tool fails the node, naming provider and tool" body_is '.data.status == "failed"
    and .data.error == "Tool duckduckgo/ddgo_search is not available on this server (built-in tools: time/current_time, json_process/json_parse, webscraper/webscraper)."'

AGENT='{"id":"ag","data":{"type":"agent","title":"Agent","agent_strategy_provider_name":"langgenius/agent/agent",
 "agent_strategy_name":"function_calling","agent_parameters":{
 "model":{"type":"constant","value":{"provider":"fake","model":"tool-call","model_type":"llm","completion_params":{}}},
 "tools":{"type":"constant","value":[{"provider_name":"time","tool_name":"current_time","enabled":true}]},
 "instruction":{"type":"constant","value":"Answer with the time."},"query":{"type":"mixed","value":"{{#start.q#}}"},
 "maximum_iterations":{"type":"constant","value":3}}}}'
app agent "{\"nodes\":[$START,$AGENT,$(END1 end text '["ag","text"]')],\"edges\":[$(E start ag),$(E ag end)]}"
sse /v1/workflows/run "$KEY" '{"inputs":{"q":"what time is it?"},"user":"u1","response_mode":"streaming"}'
check "agent node: the model calls the tool, gets its result, answers; the text streams" \
    last_event ".data.status == \"succeeded\" and (.data.outputs.text | test(\"^Tool result received: $(date -u +%Y)-[0-9-]+ [0-9:]+ UTC$\"))"
check "... as text chunks from [ag, text]" bash -c "
    cut -d' ' -f2- '$T/sse' | jq -s -e '[.[] | select(.event == \"text_chunk\")] | length > 2
    and (map(.data.text) | join(\"\") | startswith(\"Tool result received:\"))' >/dev/null"
check "the second call carried the assistant's tool call and the tool's answer" bash -c "
    tail -1 '$T/fake.log' | jq -e '(.messages | map(.role)) == [\"system\",\"user\",\"assistant\",\"tool\"]
    and .messages[2].tool_calls[0].function.name == \"current_time\" and .messages[3].tool_call_id == .messages[2].tool_calls[0].id' >/dev/null"
check "agent outputs: text, usage over both rounds, files, json" \
    node_json agent outputs '.usage.total_tokens > 0 and (.files | type) == "array" and .json == [{"data":[]}]'

# ---- list-operator, document-extractor, knowledge-retrieval ----
cat > "$T/fu.json" <<'EOF'
{"file_upload":{"enabled":true,"allowed_file_types":["document","image"],
 "allowed_file_upload_methods":["local_file","remote_url"],"number_limits":5}}
EOF
app docs "{\"nodes\":[$START,
 {\"id\":\"lo\",\"data\":{\"type\":\"list-operator\",\"title\":\"Docs\",\"variable\":[\"sys\",\"files\"],
  \"filter_by\":{\"enabled\":true,\"conditions\":[{\"key\":\"type\",\"comparison_operator\":\"in\",\"value\":[\"document\"]}]},
  \"order_by\":{\"enabled\":true,\"key\":\"name\",\"value\":\"asc\"},\"limit\":{\"enabled\":true,\"size\":5}}},
 {\"id\":\"de\",\"data\":{\"type\":\"document-extractor\",\"title\":\"Text\",\"variable_selector\":[\"lo\",\"result\"],\"is_array_file\":true}},
 {\"id\":\"kr\",\"data\":{\"type\":\"knowledge-retrieval\",\"title\":\"K\",\"query_variable_selector\":[\"start\",\"q\"],
  \"dataset_ids\":[\"6084ed3f-d100-4df2-a277-b40d639ea7c6\"],\"retrieval_mode\":\"single\"}},
 {\"id\":\"end\",\"data\":{\"type\":\"end\",\"title\":\"End\",\"outputs\":[{\"variable\":\"text\",\"value_selector\":[\"de\",\"text\"]},
  {\"variable\":\"first\",\"value_selector\":[\"lo\",\"first_record\",\"name\"]},
  {\"variable\":\"kept\",\"value_selector\":[\"lo\",\"result\"]},{\"variable\":\"k\",\"value_selector\":[\"kr\",\"result\"]}]}}],
 \"edges\":[$(E start lo),$(E lo de),$(E de kr),$(E kr end)]}" --config "$T/fu.json"
printf 'b notes\n' > "$T/b.txt"
printf '\x89PNG\r\n\x1a\n' > "$T/i.png"; head -c 64 /dev/zero >> "$T/i.png"
F1=$(upload "$T/b.txt" text/plain)
F2=$(upload "$T/i.png" image/png)
run '{"q":"what do they say?"}' "\"files\":[{\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F1\"},
 {\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F2\"},
 {\"type\":\"document\",\"transfer_method\":\"remote_url\",\"url\":\"$TS/a-remote.txt\"}]"
check "list-operator keeps the documents, ordered by name; document-extractor reads each (upload and URL)" body_is '
    .data.status == "succeeded" and .data.outputs.text == ["Remote document text.\n","b notes\n"]
    and .data.outputs.first == "a-remote.txt" and (.data.outputs.kept | map(.filename)) == ["a-remote.txt","b.txt"]'
check "knowledge-retrieval: no datasets here, so an empty result, as Dify gives" body_is '.data.outputs.k == []'
check "the list-operator's inputs are the three files; document-extractor's process_data its documents" \
    test "$(node list-operator "$(jlen inputs '$.variable')")|$(node document-extractor "$(jlen process_data '$.documents') || '|' || $(jx inputs '$.variable_selector')")" = '3|2|["lo","result"]'
printf '%%PDF-1.4\n' > "$T/r.pdf"
F3=$(upload "$T/r.pdf" application/pdf)
run '{"q":"x"}' "\"files\":[{\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F3\"}]"
check "a damaged PDF fails document-extractor with Dify's TextExtractionError" body_is '.data.status == "failed"
    and (.data.error | startswith("Failed to extract text from PDF: "))'
cp "$ROOT/tests/fixtures/docs/sample.docx" "$T/c.docx"
cp "$ROOT/tests/fixtures/docs/sample.pdf" "$T/d.pdf"
F4=$(upload "$T/c.docx" application/vnd.openxmlformats-officedocument.wordprocessingml.document)
F5=$(upload "$T/d.pdf" application/pdf)
run '{"q":"x"}' "\"files\":[{\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F5\"},
 {\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F4\"}]"
check "document-extractor reads a docx (paragraphs, a Markdown table) and a PDF (page after page)" body_is '
    .data.status == "succeeded"
    and .data.outputs.text == ["Title\na link\tb&c\nde\n\n| H1 | H2 | H3 |\n| --- | --- | --- |\n| wide | wide | x<br>y |\n| 1 | 2 | x<br>y |\n\ncaf\u00e9 \u2014 end",
    "Hello PDF\r\nsecond linePage two"]'

# ---- the DSL fixtures with these nodes ----
imp() {	# imp NAME [sed script]: import fixture NAME (edited); KEY
	sed "${2:-}" "$FIXTURES/$1.yml" > "$T/$1.yml"
	KEY=$("$ADMIN" app import "$T/$1.yml" --key 2>"$T/import.err" | tail -1)
}
HELLO="Hello from the fake upstream."

imp tpl-email-assistant
run '{"Input_Text":"Dear team, the invoice is late.","user_request":"Reply "}'
check "tpl-email-assistant: the classifier fans out to 'Reply to emails' and one End runs" body_is "
    .data.status == \"succeeded\" and .data.outputs == {\"text\":\"$HELLO\"} and .data.total_steps == 5"
check "... its classifier chose that class" \
    test "$(node question-classifier "$(jx outputs '$.class_name')")" = "Reply to emails"
run '{"Input_Text":"Hi.","user_request":"Improve writings ","how_polish":"Shorten"}'
check "... 'Improve writings' goes through the second classifier to 'Shorten'" body_is "
    .data.status == \"succeeded\" and .data.outputs == {\"text\":\"$HELLO\"} and .data.total_steps == 6"
check "... which chose 'Shorten '" test "$(node question-classifier "$(jx outputs '$.class_name')")" = "Shorten "

# their HTTP requests (to www.example.com) go to the local server instead
for f in tpl-customer-review ida29-review-analysis; do
	imp $f "s|https://www.example.com|$TS/example|g"
	run '{"review":"negative review: a transportation issue"}'
	check "$f: two classifiers route to the third HTTP request, whose answer is the output" body_is '
	    .data.status == "succeeded" and .data.outputs == {"output":"Remote document text.\n"}'
	check "... which asked the local server (GET /example)" \
	    test "$(node http-request "$(jx process_data '$.request')" | head -1)" = $'GET /example HTTP/1.1\r'
	check "... after Negative review and Transportation issue" \
	    test "$(sql "SELECT $(jx outputs '$.class_name') FROM workflow_node_executions WHERE node_type = 'question-classifier' ORDER BY rowid DESC LIMIT 2" | paste -sd '|')" = "Transportation issue|Negative review "
done

imp tpl-text-summary
run '{"input":"Long text to sum up.","summaryStyle":"Technical Summary"}'
check "tpl-text-summary: knowledge-retrieval gives [] and the LLM with its context runs" body_is "
    .data.status == \"succeeded\" and .data.outputs.output == \"<h1> Summary </h1>\n$HELLO\" and .data.total_steps == 7"
check "... the retrieval's result is []" test "$(node knowledge-retrieval "outputs")" = '{"result":[]}'
run '{"input":"Long text.","summaryStyle":"General Overview"}'
check "... and the General Overview branch skips it" body_is ".data.status == \"succeeded\" and .data.total_steps == 6"

# its card API pointed first at a closed local port, then at the server
CLOSED=$(free_port)
imp svcvit-text-to-card "s|https://api.imgrender.cn/open/v1/pics|http://127.0.0.1:$CLOSED/open/v1/pics|"
run '{"author":"Ann","body_text":"Short note"}'
check "svcvit-text-to-card: runs to its HTTP POST, which fails clearly when nothing answers" body_is "
    .data.status == \"failed\" and .data.error == \"Request to http://127.0.0.1:$CLOSED/open/v1/pics failed: Couldn't connect to server\""
imp svcvit-text-to-card "s|https://api.imgrender.cn/open/v1/pics|$TS/card|"
run '{"author":"Ann","body_text":"Short note"}'
check "... pointed at a local server: HTTP POST of the template's JSON, then the parameter-extractor (prompt mode) reads the URL" body_is '
    .data.status == "succeeded" and .data.outputs == {"image_url":"http://img.test/card-2.png"}'
check "... the request had the custom api-key header, masked in the log" \
    grep -q $'^X-API-Key: \\*\\{8\\}\r$' <<<"$(node http-request "$(jx process_data '$.request')")"

imp svcvit-intent
run '{"query":"How do I sleep better?"}'
check "svcvit-intent: LLM, classifier, the chosen branch, aggregator, LLM, End" body_is "
    .data.status == \"succeeded\" and .data.outputs == {\"output\":\"$HELLO\"}"

chat() {	# chat QUERY [files JSON]: a blocking chatflow turn
	jreq POST /v1/chat-messages "$KEY" "{\"inputs\":{},\"query\":\"$1\",\"user\":\"u1\"${2:+,\"files\":$2}}"
}
imp tpl-qc-knowledge
chat "Questions about how to use products"
check "tpl-qc-knowledge: a usage question goes to its knowledge-retrieval and LLM" body_is ".answer == \"$HELLO\""
check "... whose retrieval found nothing" test "$(node knowledge-retrieval "$(jx inputs '$.query') || '|' || outputs")" = 'Questions about how to use products|{"result":[]}'
chat "other questions please"
check "... other questions get the fixed answer" body_is '.answer == "Sorry, I can'"'"'t help you with these questions. "'

imp bl-image-text-chain
F1=$(upload "$T/b.txt" text/plain)
chat "summarise" "[{\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F1\"}]"
check "bl-image-text-chain: a document alone goes through list-operator and document-extractor into the LLM's context" \
    body_is '.answer | contains("{b notes\\n}")'
F2=$(upload "$T/i.png" image/png)
chat "both" "[{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F2\"},
 {\"type\":\"document\",\"transfer_method\":\"remote_url\",\"url\":\"$TS/doc.txt\"}]"
check "... an image and a document: both list-operators, the extractor on the remote document, one answer" \
    body_is '(.answer | contains("Remote document text.")) and (.answer | contains("---------------"))'
check "... the four list-operators kept what they should" \
    test "$(sql "SELECT $(jlen outputs '$.result') FROM workflow_node_executions WHERE node_type = 'list-operator' ORDER BY rowid DESC LIMIT 2" | paste -sd ',')" = "1,1"
finish
