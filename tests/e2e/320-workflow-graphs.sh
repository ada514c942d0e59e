#!/bin/bash
# Graphs of one's own (dify-admin app create --graph) run through
# workflow.fcgi: if-else branches with two End nodes, streaming through a
# template versus straight from the LLM, joins, Jinja templates, env
# variables, and error strategies, as Dify's own fixtures have them.
. "$(dirname "$0")/../lib.sh"
plan 21
start_fake_upstream
export DIFYCGI_ALLOW_PRIVATE_URLS=1	# file URLs below are on loopback
start_server

# dify-if-else-hello.yml: contains "hello" -> End "true", else End "false"
cat > "$T/hello.json" <<'EOF'
{"nodes":[
 {"id":"start","data":{"type":"start","title":"Start","variables":[
  {"variable":"query","label":"query","type":"text-input","required":true,"max_length":256}]}},
 {"id":"if","data":{"type":"if-else","title":"IF/ELSE","cases":[{"case_id":"true",
  "logical_operator":"and","conditions":[{"id":"c1","variable_selector":["start","query"],
  "comparison_operator":"contains","value":"hello","varType":"string"}]}]}},
 {"id":"end_t","data":{"type":"end","title":"End true","outputs":[
  {"variable":"true","value_selector":["start","query"],"value_type":"string"}]}},
 {"id":"end_f","data":{"type":"end","title":"End false","outputs":[
  {"variable":"false","value_selector":["start","query"]}]}}],
 "edges":[
 {"id":"e1","source":"start","sourceHandle":"source","target":"if","targetHandle":"target"},
 {"id":"e2","source":"if","sourceHandle":"true","target":"end_t","targetHandle":"target"},
 {"id":"e3","source":"if","sourceHandle":"false","target":"end_f","targetHandle":"target"}]}
EOF
read -r H KH <<<"$(new_app workflow --provider fake --model echo --graph "$T/hello.json")"
req GET /v1/parameters "$KH"
check "the input form comes from the graph's start node" body_is '
    .user_input_form == [{"text-input":{"variable":"query","label":"query","type":"text-input","required":true,"max_length":256}}]'
jreq POST /v1/workflows/run "$KH" '{"inputs":{"query":"hello world"},"user":"u1"}'
check "dify-if-else-hello: 'hello world' runs the true branch" body_is '
    .data.outputs == {"true":"hello world"} and .data.status == "succeeded" and .data.total_steps == 3'
jreq POST /v1/workflows/run "$KH" '{"inputs":{"query":"goodbye"},"user":"u1"}'
check "... and 'goodbye' the false one" body_is '.data.outputs == {"false":"goodbye"}'
sse /v1/workflows/run "$KH" '{"inputs":{"query":"hello world"},"user":"u1","response_mode":"streaming"}'
check "the untaken End emits no events; the taken one streams as soon as the branch is known" \
    events_are "workflow_started node_started node_finished node_started node_finished text_chunk node_started node_finished workflow_finished"
ev() { cut -d' ' -f2- "$T/sse" | grep -v '^ping$' | jq -s "$1"; }
evok() { [ "$(ev "$1")" = true ]; }
check "the if-else node reports result, case id, conditions and results" evok '
    [.[] | select(.event == "node_finished" and .data.node_type == "if-else")][0].data |
    .outputs == {"result":true,"selected_case_id":"true"}
    and .inputs.conditions == [{"actual_value":"hello world","expected_value":"hello","comparison_operator":"contains"}]
    and .process_data.condition_results[0].results == [true]
    and .process_data.condition_results[0].final_result == true'
check "the End's value streams as one chunk, attributed to its variable" evok '
    [.[] | select(.event == "text_chunk") | .data] == [{"text":"hello world","from_variable_selector":["start","query"]}]'
check "no event names the untaken End" bash -c "! grep -q end_f '$T/sse'"

# dify-streaming-vs-template.yml: =1 -> LLM -> Template -> End, else LLM -> End
cat > "$T/svt.json" <<'EOF'
{"nodes":[
 {"id":"start","data":{"type":"start","title":"Start","variables":[
  {"variable":"query","label":"query","type":"text-input","required":true},
  {"variable":"blocking","label":"blocking","type":"number","required":true}]}},
 {"id":"if","data":{"type":"if-else","title":"IF","cases":[{"case_id":"true","logical_operator":"and",
  "conditions":[{"variable_selector":["start","blocking"],"comparison_operator":"=","value":"1"}]}]}},
 {"id":"llm1","data":{"type":"llm","title":"LLM 1","prompt_template":[{"role":"user","text":"{{#start.query#}}"}]}},
 {"id":"tpl","data":{"type":"template-transform","title":"Template","template":"{{ arg1 }}",
  "variables":[{"variable":"arg1","value_selector":["llm1","text"]}]}},
 {"id":"end1","data":{"type":"end","title":"End 1","outputs":[
  {"variable":"query","value_selector":["start","query"]},{"variable":"text","value_selector":["tpl","output"]}]}},
 {"id":"llm2","data":{"type":"llm","title":"LLM 2","prompt_template":[{"role":"user","text":"{{#start.query#}}"}]}},
 {"id":"end2","data":{"type":"end","title":"End 2","outputs":[
  {"variable":"query","value_selector":["start","query"]},{"variable":"text","value_selector":["llm2","text"]}]}}],
 "edges":[
 {"source":"start","sourceHandle":"source","target":"if"},
 {"source":"if","sourceHandle":"true","target":"llm1"},{"source":"llm1","sourceHandle":"source","target":"tpl"},
 {"source":"tpl","sourceHandle":"source","target":"end1"},
 {"source":"if","sourceHandle":"false","target":"llm2"},{"source":"llm2","sourceHandle":"source","target":"end2"}]}
EOF
read -r V KV <<<"$(new_app workflow --provider fake --model echo --graph "$T/svt.json")"
sse /v1/workflows/run "$KV" '{"inputs":{"query":"q1","blocking":1},"user":"u1","response_mode":"streaming"}'
check "through a template: End streams query, newline, template output as 3 chunks" evok '
    [.[] | select(.event == "text_chunk") | .data.from_variable_selector] ==
    [["start","query"],["end1","answer"],["tpl","output"]]'
check "... and the template's chunk is the whole LLM answer" evok '
    ([.[] | select(.event == "text_chunk") | .data.text] | .[2] | fromjson) == [{"role":"user","content":"q1"}]'
sse /v1/workflows/run "$KV" '{"inputs":{"query":"q2","blocking":"0"},"user":"u1","response_mode":"streaming"}'
check "straight from the LLM: query, newline, then the LLM's chunks as they come" evok '
    [.[] | select(.event == "text_chunk") | .data] as $c |
    ($c[0] == {"text":"q2","from_variable_selector":["start","query"]})
    and ($c[1] == {"text":"\n","from_variable_selector":["end2","answer"]})
    and ($c | length) > 4 and ($c[2:] | all(.[]; .from_variable_selector == ["llm2","text"]))
    and ([$c[2:][].text] | join("") | fromjson) == [{"role":"user","content":"q2"}]'
check "... and the LLM's chunks come before its node_finished" evok '
    (map(.event) | index("node_finished") as $x | true) and
    ([.[] | .event + ":" + (.data.node_id // .data.from_variable_selector[0] // "")] |
    (index("text_chunk:llm2") < index("node_finished:llm2")))'

# a join, a Jinja loop, env variables, and error strategies
cat > "$T/mix.json" <<'EOF'
{"nodes":[
 {"id":"start","data":{"type":"start","title":"Start","variables":[
  {"variable":"items","label":"items","type":"paragraph","required":true},
  {"variable":"mode","label":"mode","type":"select","options":["a","b"],"required":true}]}},
 {"id":"if","data":{"type":"if-else","title":"IF","cases":[{"case_id":"is-a","logical_operator":"or",
  "conditions":[{"variable_selector":["start","mode"],"comparison_operator":"is","value":"a"}]}]}},
 {"id":"ta","data":{"type":"template-transform","title":"A","template":"{% for x in xs %}{{ loop.index }}.{{ x|upper }}{% if not loop.last %}, {% endif %}{% endfor %}",
  "variables":[{"variable":"xs","value_selector":["split","output"]}]}},
 {"id":"split","data":{"type":"template-transform","title":"Split","template":"{{ s }}","variables":[{"variable":"s","value_selector":["start","items"]}]}},
 {"id":"tb","data":{"type":"template-transform","title":"B","template":"B {{ env }}",
  "variables":[{"variable":"env","value_selector":["env","greeting"]}]}},
 {"id":"bad","data":{"type":"llm","title":"Bad LLM","model":{"provider":"fake","name":"err-500","mode":"chat","completion_params":{}},
  "prompt_template":[{"role":"user","text":"x"}],"error_strategy":"default-value",
  "default_value":[{"key":"text","type":"string","value":"fallback"}]}},
 {"id":"agg","data":{"type":"variable-aggregator","title":"Join","output_type":"string",
  "variables":[["ta","output"],["tb","output"]]}},
 {"id":"end","data":{"type":"end","title":"End","outputs":[
  {"variable":"joined","value_selector":["agg","output"]},{"variable":"llm","value_selector":["bad","text"]},
  {"variable":"env","value_selector":["env","greeting"]}]}}],
 "edges":[
 {"source":"start","target":"split"},{"source":"split","target":"if"},
 {"source":"if","sourceHandle":"is-a","target":"ta"},{"source":"if","sourceHandle":"false","target":"tb"},
 {"source":"ta","target":"agg"},{"source":"tb","target":"agg"},
 {"source":"agg","target":"bad"},{"source":"bad","target":"end"}]}
EOF
read -r M KM <<<"$(new_app workflow --provider fake --model echo --graph "$T/mix.json")"
sql "UPDATE workflows SET environment_variables = '[{\"id\":\"e1\",\"name\":\"greeting\",\"value\":\"hey\",\"value_type\":\"string\",\"description\":\"\"}]' WHERE app_id = '$M'"
jreq POST /v1/workflows/run "$KM" '{"inputs":{"items":"x","mode":"a"},"user":"u1"}'
check "a join after if-else takes the branch that ran; a handled failure makes the run partial" body_is '
    .data.outputs == {"joined":"1.X","llm":"fallback","env":"hey"}
    and .data.status == "partial-succeeded" and .data.total_steps == 7'
RM=$(printf '%s' "$BODY" | jq -r .workflow_run_id)
check "the exception is stored with its error and defaults" \
    test "$(sql "SELECT status, $(jx outputs '$.text'), $(jx outputs '$.error_type'), $(jx execution_metadata '$.error_strategy') FROM workflow_node_executions WHERE workflow_run_id = '$RM' AND node_id = 'bad'")" = "exception|fallback|InvokeError|default-value"
check "the run counts the exception" \
    test "$(sql "SELECT exceptions_count, status FROM workflow_runs WHERE id = '$RM'")" = "1|partial-succeeded"
jreq POST /v1/workflows/run "$KM" '{"inputs":{"items":"x","mode":"b"},"user":"u1"}'
check "the other branch joins the same way and reads env variables" body_is '
    .data.outputs.joined == "B hey"'
jreq POST /v1/workflows/run "$KM" '{"inputs":{"items":"x","mode":"c"},"user":"u1"}'
check "a select input outside its options is 400" \
    expect_error 400 invalid_param "mode in input form must be one of the following: ['a', 'b']"
sse /v1/workflows/run "$KM" '{"inputs":{"items":"x","mode":"a"},"user":"u1","response_mode":"streaming"}'
check "streaming: the handled failure shows as node_finished exception, skipped nodes never show" evok '
    ([.[] | select(.event == "node_finished") | .data | .node_id + ":" + .status]) ==
    ["start:succeeded","split:succeeded","if:succeeded","ta:succeeded","agg:succeeded","bad:exception","end:succeeded"]
    and .[-1].data.status == "partial-succeeded" and .[-1].data.exceptions_count == 1'

# a graph whose node type this server does not run fails that node
cat > "$T/code.json" <<'EOF'
{"nodes":[{"id":"start","data":{"type":"start","title":"Start","variables":[]}},
 {"id":"code","data":{"type":"human-input","title":"Ask","code":"","outputs":{}}},
 {"id":"end","data":{"type":"end","title":"End","outputs":[]}}],
 "edges":[{"source":"start","target":"code"},{"source":"code","target":"end"}]}
EOF
read -r K KK <<<"$(new_app workflow --provider fake --model echo --graph "$T/code.json")"
jreq POST /v1/workflows/run "$KK" '{"inputs":{},"user":"u1"}'
check "a node type the server has no executor for is refused with a message naming it" \
    expect_error 400 invalid_param "No class mapping found for node type: human-input (node code)"
# request files become sys.files, checked as for chat requests
cat > "$T/files.json" <<'EOF2'
{"nodes":[{"id":"start","data":{"type":"start","title":"Start","variables":[]}},
 {"id":"end","data":{"type":"end","title":"End","outputs":[
  {"variable":"files","value_selector":["sys","files"]},
  {"variable":"name","value_selector":["sys","files"]}]}}],
 "edges":[{"source":"start","target":"end"}]}
EOF2
read -r FU KFU <<<"$(new_app workflow --provider fake --model echo --graph "$T/files.json" --feature file_upload=on)"
jreq POST /v1/workflows/run "$KFU" '{"inputs":{},"user":"u1","files":[{"type":"image","transfer_method":"remote_url","url":"http://127.0.0.1:9/cat.png"}]}'
check "request files become sys.files as Dify file objects" body_is '
    .data.outputs.files[0] | .dify_model_identity == "__dify__file__" and .type == "image"
    and .transfer_method == "remote_url" and .filename == "cat.png" and .extension == ".png"
    and .url == "http://127.0.0.1:9/cat.png" and .remote_url == "http://127.0.0.1:9/cat.png"'
jreq POST /v1/workflows/run "$KFU" '{"inputs":{},"user":"u1","files":[{"type":"image","transfer_method":"carrier_pigeon"}]}'
check "a file with an unknown transfer method is 400 invalid_param" \
    expect_error 400 invalid_param "Invalid file transfer method: carrier_pigeon"
jreq POST /v1/workflows/run "$KH" '{"inputs":{"query":"x"},"user":"u1","files":[{"type":"image","transfer_method":"remote_url","url":"http://127.0.0.1:9/cat.png"}]}'
check "with file upload off, files are ignored" body_is '.data.status == "succeeded"'
finish
