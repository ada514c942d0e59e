#!/bin/bash
# Dify DSL import and export with dify-admin: every fixture imports (or
# names its unsupported node types), exports round-trip to the same graph,
# secrets stay out of exports, bad files list every problem and write
# nothing, and an imported app serves /v1/parameters from its start node.
. "$(dirname "$0")/../lib.sh"
plan 40
FIX="$FIXTURES"
STATUS="" BODY=""
start_server

# PyYAML is the reference for how a file reads: a missing PyYAML is a
# failure (python3-yaml), not a reason to compare less
have_pyyaml=0
python3 -c 'import yaml' 2>/dev/null && have_pyyaml=1
check "PyYAML is installed (python3-yaml), to compare readings with" \
    [ $have_pyyaml = 1 ]
# pyyaml FILE: the file as JSON, as PyYAML's safe_load reads it
pyyaml() {
	python3 -c 'import sys, yaml, json
print(json.dumps(yaml.safe_load(open(sys.argv[1], "rb")), ensure_ascii=False))' "$1"
}
graph_of() { sql "SELECT graph FROM workflows WHERE app_id = '$1'" | jq -S .; }
config_of() { sql "SELECT config FROM apps WHERE id = '$1'" | jq -S .; }
jqe() { jq -e "$@" >/dev/null; }

# ---- every fixture ----
total=0 imported=0 bad_failures=0 typing_diffs=0 rt_fail=""
for f in "$FIX"/*.yml; do
	name=$(basename "$f")
	total=$((total + 1))
	if id=$("$ADMIN" app import "$f" 2>"$T/err"); then
		imported=$((imported + 1))
	else
		# a failure must name the node types it cannot take
		grep -q 'unknown node type' "$T/err" || {
			bad_failures=$((bad_failures + 1))
			echo "# $name: $(head -3 "$T/err")"
		}
		continue
	fi
	if [ "$("$ADMIN" dsl json "$f" | jq -S .)" != "$(pyyaml "$f" | jq -S .)" ]; then
		typing_diffs=$((typing_diffs + 1))
		echo "# $name: read differently from PyYAML"
	fi
	# round trip: export, import the export, export again
	"$ADMIN" app export "$id" > "$T/e1.yml" &&
	    id2=$("$ADMIN" app import "$T/e1.yml" 2>/dev/null) &&
	    "$ADMIN" app export "$id2" > "$T/e2.yml" &&
	    cmp -s "$T/e1.yml" "$T/e2.yml" &&
	    [ "$(graph_of "$id")" = "$(graph_of "$id2")" ] &&
	    [ "$(config_of "$id")" = "$(config_of "$id2")" ] &&
	    [ "$(pyyaml "$T/e1.yml" | jq -S .)" = "$("$ADMIN" dsl json "$T/e1.yml" | jq -S .)" ] ||
	    rt_fail="$rt_fail $name"
done
echo "# imported $imported of $total"
check "all 40 fixtures are there" [ "$total" = 40 ]
check "every fixture imports, or fails naming its unsupported node types" [ "$bad_failures" = 0 ]
check "every fixture reads as PyYAML's safe_load reads it" [ "$typing_diffs" = 0 ]
check "every import exports, re-imports and exports again identically, with equal graphs and configs" [ -z "$rt_fail" ]
[ -z "$rt_fail" ] || echo "#   round trip failed:$rt_fail"

# ---- warnings for node types the engine cannot run (dsl types) ----
warns=$("$ADMIN" dsl types | awk '$2 == "warns" { print $1 }')
check "dsl types lists Dify's 23 node types, each running or warning" \
    [ "$("$ADMIN" dsl types | grep -cE '	(runs|warns)$')" = 23 ]
bad_warn=""
for f in "$FIX"/*.yml; do
	"$ADMIN" app import "$f" --check >/dev/null 2>"$T/err" || continue
	want=$("$ADMIN" dsl json "$f" | jq --arg w "$warns" '[.workflow.graph.nodes[]?
	    | select(.type != "custom-note") | .data.type
	    | select(. as $t | $w | split("\n") | index($t))] | length')
	got=$(grep -c 'the engine cannot run' "$T/err")
	[ "$want" = "$got" ] || bad_warn="$bad_warn $(basename "$f")"
done
check "each fixture warns once for every node of a type the engine cannot run" [ -z "$bad_warn" ]
[ -z "$bad_warn" ] || echo "#   warnings differ:$bad_warn"
t=$(head -1 <<<"$warns")
if [ -n "$t" ]; then
	printf 'app: {name: w, mode: workflow}\nworkflow:\n  graph:\n    nodes:\n    - {id: s, data: {type: start, title: Start}}\n    - {id: e, data: {type: end, title: End}}\n    - {id: x1, data: {type: %s, title: Later}}\n' "$t" > "$T/warn.yml"
	id=$("$ADMIN" app import "$T/warn.yml" 2>"$T/err")
	check "a $t node imports, with a warning naming it" bash -c "[ ${#id} = 36 ] &&
	    grep -qF 'warning: node \"x1\": \"Later\" ($t): the engine cannot run $t nodes yet' '$T/err'"
else
	ok "every node type runs: none warns"
fi

# ---- issue 11: a loop with a loop-end node runs, so it imports quietly ----
cat > "$T/loop-end.yml" <<'EOF'
app: {name: breaks, mode: workflow}
workflow:
  graph:
    nodes:
    - {id: s, data: {type: start, title: Start, variables: []}}
    - id: loop
      data:
        type: loop
        title: Loop
        loop_count: 5
        start_node_id: ls
        loop_variables: [{label: n, var_type: number, value_type: constant, value: 1}]
    - {id: ls, parentId: loop, type: custom-loop-start, data: {type: loop-start, title: '', isInLoop: true}}
    - id: dbl
      parentId: loop
      data:
        type: assigner
        title: Triple
        version: '2'
        isInLoop: true
        loop_id: loop
        items: [{variable_selector: [loop, n], input_type: constant, operation: '*=', value: 3}]
    - id: if
      parentId: loop
      data:
        type: if-else
        title: Big
        isInLoop: true
        loop_id: loop
        cases: [{case_id: big, logical_operator: and, conditions: [{variable_selector: [loop, n], comparison_operator: '>', value: '5'}]}]
    - {id: stop, parentId: loop, data: {type: loop-end, title: Break, isInLoop: true, loop_id: loop}}
    - {id: e, data: {type: end, title: End, outputs: [{variable: n, value_selector: [loop, n]}]}}
    edges:
    - {id: e1, source: s, target: loop}
    - {id: e2, source: ls, target: dbl}
    - {id: e3, source: dbl, target: if}
    - {id: e4, source: if, sourceHandle: big, target: stop}
    - {id: e5, source: loop, target: e}
EOF
check "dsl types says loop-end runs" \
    bash -c "'$ADMIN' dsl types | grep -qx 'loop-end	runs'"
id=$("$ADMIN" app import "$T/loop-end.yml" 2>"$T/err")
check "a loop with a loop-end node imports without a warning" \
    bash -c "[ ${#id} = 36 ] && ! grep -q 'warning' '$T/err'"
key=$("$ADMIN" key create "$id")
jreq POST /v1/workflows/run "$key" '{"inputs":{},"user":"u1","response_mode":"blocking"}'
check "and it runs: the loop-end stops the loop after two rounds" \
    body_is '.data.status == "succeeded" and .data.outputs == {"n": 9}'

# ---- normalisations survive storage ----
id=$("$ADMIN" app import "$FIX/tpl-long-story.yml" 2>/dev/null)
g=$(graph_of "$id")
check "an old iteration gets an iteration-start node before its first child" \
    jqe '(.nodes[] | select(.id == "1716786291494") | .data.start_node_id) == "1716786291494start0"
        and ([.nodes[] | select(.id == "1716786291494start0" and .type == "custom-iteration-start" and .parentId == "1716786291494")] | length) == 1
        and ([.edges[] | select(.source == "1716786291494start0" and .target == "1716805725916")] | length) == 1' <<<"$g"
check "editor notes are dropped and nothing but nodes and edges is kept" \
    jqe '(keys == ["edges", "nodes"]) and ([.nodes[] | select(.type == "custom-note")] | length) == 0' <<<"$g"
id=$("$ADMIN" app import "$FIX/tpl-sentiment.yml" 2>/dev/null)
check "a legacy if-else becomes one case with case_id true" \
    jqe '[.nodes[] | select(.data.type == "if-else") | .data | (.cases | length == 1 and .[0].case_id == "true") and (has("conditions") | not)] | all' <<<"$(graph_of "$id")"

# ---- secrets ----
cat > "$T/secret.yml" <<'EOF'
app: {name: secretive, mode: workflow}
workflow:
  environment_variables:
  - {id: '1', name: api_key, value_type: secret, value: sk-TOPSECRET-123, description: ''}
  - {id: '2', name: base, value_type: string, value: 'https://example.com', description: ''}
  graph:
    nodes:
    - {id: s, data: {type: start, title: Start, variables: []}}
    - {id: e, data: {type: end, title: End, outputs: [{variable: k, value_selector: [env, api_key]}]}}
    edges:
    - {id: e1, source: s, target: e}
EOF
id=$("$ADMIN" app import "$T/secret.yml")
check "a secret is stored as imported" \
    [ "$(sql "SELECT $(jx environment_variables '$[0].value') FROM workflows WHERE app_id = '$id'")" = sk-TOPSECRET-123 ]
"$ADMIN" app export "$id" > "$T/out.yml"
check "export writes a secret's value empty" \
    bash -c "! grep -q TOPSECRET '$T/out.yml' && '$ADMIN' dsl json '$T/out.yml' | jq -e '.workflow.environment_variables == [{\"description\":\"\",\"id\":\"1\",\"name\":\"api_key\",\"value\":\"\",\"value_type\":\"secret\"},{\"description\":\"\",\"id\":\"2\",\"name\":\"base\",\"value\":\"https://example.com\",\"value_type\":\"string\"}]' >/dev/null"
check "export --include-secret writes it" \
    bash -c "'$ADMIN' app export '$id' --include-secret | grep -q 'value: sk-TOPSECRET-123'"
check "an export says version 0.6.0, kind app, no dependencies" \
    bash -c "'$ADMIN' dsl json '$T/out.yml' | jq -e '.version == \"0.6.0\" and .kind == \"app\" and .dependencies == [] and .app.name == \"secretive\" and .app.mode == \"workflow\"' >/dev/null"

# ---- bad files: every problem listed, nothing written ----
cat > "$T/bad.yml" <<'EOF'
app: {name: bad, mode: workflow}
workflow:
  graph:
    nodes:
    - {id: s, data: {type: start, title: Start, variables: []}}
    - {id: '1718000000001', data: {type: code-interpreter, title: Code 2}}
    - {id: a, data: {type: llm, title: Ask, prompt_template: [{role: user, text: '{{#ghost.text#}}'}]}}
    - {id: b, data: {type: code, title: Parse}}
    - {id: e, data: {type: end, title: End, outputs: [{variable: x, value_selector: [b, x]}]}}
    edges:
    - {id: e1, source: s, target: a}
    - {id: e2, source: a, target: b}
    - {id: e3, source: b, target: a}
    - {id: e4, source: b, target: nowhere}
EOF
db_dump > "$T/before.sql"
"$ADMIN" app import "$T/bad.yml" >"$T/out" 2>"$T/err"; rc=$?
db_dump > "$T/after.sql"
check "a bad file exits 1 and prints no app id" [ $rc = 1 -a ! -s "$T/out" ]
check "an unknown node type is named with its id and title" \
    grep -qF 'node "1718000000001": "Code 2" (code-interpreter): unknown node type' "$T/err"
check "a dangling edge names the edge, its node and the missing end" \
    grep -qF 'edge "e4" (from node "b": "Parse" (code)): target "nowhere" is not a node' "$T/err"
check "a cycle names the nodes on it" \
    grep -qF 'node "a": "Ask" (llm): in a cycle: "a" -> "b" -> "a"' "$T/err"
check "a template naming no node is reported with where it is" \
    grep -qF 'node "a": "Ask" (llm): refers to node "ghost", which does not exist (in prompt_template)' "$T/err"
check "the problems are counted and nothing is imported" \
    grep -qF 'dify-admin: app import: 4 problems; nothing imported' "$T/err"
check "the database is unchanged after a failed import" cmp -s "$T/before.sql" "$T/after.sql"

printf '[1, 2]\n' > "$T/list.yml"
"$ADMIN" app import "$T/list.yml" 2>"$T/err"; rc=$?
check "a file that is not a mapping fails" \
    bash -c "[ $rc = 1 ] && grep -qF 'Invalid YAML format: content must be a mapping' '$T/err'"
printf 'app: {name: x, mode: workflow}\nworkflow: {graph: {nodes: [{id: s, data: {type: start}}, {id: e, data: {type: end}}]}}\n' > "$T/ok.yml"
"$ADMIN" app import "$T/ok.yml" --check >/dev/null 2>&1; rc=$?
db_dump > "$T/after2.sql"
check "--check accepts a good file and writes nothing" \
    bash -c "[ $rc = 0 ] && cmp -s '$T/before.sql' '$T/after2.sql'"
head -c $((10 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' > "$T/big.yml"
"$ADMIN" app import "$T/big.yml" 2>"$T/err"; rc=$?
check "a file over 10 MiB is refused" bash -c "[ $rc = 1 ] && grep -q 'larger than' '$T/err'"

# ---- the imported app serves ----
out=$("$ADMIN" app import "$FIX/tpl-long-story.yml" --name "Story" --key)
id=$(sed -n 1p <<<"$out"); key=$(sed -n 2p <<<"$out")
check "--key prints the app id, then a key" bash -c "[[ '$key' == app-* ]] && [ ${#id} = 36 ]"
req GET /v1/info "$key"
check "/info shows the --name and the mode" body_is '.name == "Story" and .mode == "advanced-chat"'
req GET /v1/parameters "$key"
want=$("$ADMIN" dsl json "$FIX/tpl-long-story.yml" | jq -c '[.workflow.graph.nodes[] | select(.data.type == "start") | .data.variables[] | {(.type): .}]')
check "/parameters has the start node's variables as user_input_form" \
    body_is ".user_input_form == $want"
check "/parameters has the form items Dify shows" body_is '
    .user_input_form[0]["text-input"] == {"label":"Title","max_length":256,"options":[],"required":true,"type":"text-input","variable":"article_title"}
    and .user_input_form[1].paragraph.variable == "article_outline"'
check "/parameters passes the workflow features" body_is '
    .opening_statement == "" and .file_upload.image.number_limits == 3 and .retriever_resource == {"enabled":false}'
check "the app's config carries the first llm node's model" \
    jqe '.model.name == "gpt-4o" and .model.provider == "openai"' <<<"$(config_of "$id")"

cat > "$T/chat.yml" <<'EOF'
app: {name: Chatty, mode: chat, icon: "🤖", icon_type: emoji, icon_background: '#FFEAD5', description: talks}
kind: app
version: 0.1.5
model_config:
  model: {provider: offline, name: offline-demo, mode: chat, completion_params: {temperature: 0.7}}
  pre_prompt: 'You help {{name}}.'
  opening_statement: Hi there
  suggested_questions: ['What now?']
  user_input_form:
  - text-input: {variable: name, label: Name, required: true, max_length: 48, default: ''}
  speech_to_text: {enabled: true}
EOF
out=$("$ADMIN" app import "$T/chat.yml" --key)
id=$(sed -n 1p <<<"$out"); key=$(sed -n 2p <<<"$out")
req GET /v1/parameters "$key"
check "a chat app's model_config serves /parameters as written" body_is '
    .opening_statement == "Hi there" and .suggested_questions == ["What now?"]
    and .user_input_form == [{"text-input":{"variable":"name","label":"Name","required":true,"max_length":48,"default":""}}]
    and .speech_to_text == {"enabled":true}'
req GET /v1/site "$key"
check "an imported app has a WebApp site, as every Dify app has" \
    body_is '.title == "Chatty" and .icon == "🤖" and .use_icon_as_answer_icon == false'
"$ADMIN" app export "$id" > "$T/chat-out.yml"
check "a chat app exports its model_config unchanged" \
    bash -c "[ \"\$('$ADMIN' dsl json '$T/chat-out.yml' | jq -S .model_config)\" = \"\$('$ADMIN' dsl json '$T/chat.yml' | jq -S .model_config)\" ]"
check "and its app section" \
    bash -c "'$ADMIN' dsl json '$T/chat-out.yml' | jq -e '.app == {\"description\":\"talks\",\"icon\":\"🤖\",\"icon_background\":\"#FFEAD5\",\"icon_type\":\"emoji\",\"mode\":\"chat\",\"name\":\"Chatty\",\"use_icon_as_answer_icon\":false}' >/dev/null"
id=$("$ADMIN" app import - --name "from stdin" < "$FIX/dify-passthrough.yml")
check "app import - reads the file from stdin" \
    bash -c "'$ADMIN' app show '$id' | jq -e '.name == \"from stdin\" and .mode == \"workflow\"' >/dev/null"
"$ADMIN" app export 00000000-0000-0000-0000-000000000000 >/dev/null 2>&1; rc=$?
check "exporting an unknown app fails" [ $rc != 0 ]
finish
