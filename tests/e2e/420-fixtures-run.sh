#!/bin/bash
# Every fixture of tests/fixtures/dsl/ imported and run end to end
# with the fake upstream answering its LLM nodes (whatever provider they
# name): it either runs to success, or fails with a clear message naming
# what is not supported.  REPORT=FILE also writes the README's coverage
# table (file, mode, imported, ran, why not) to FILE.
. "$(dirname "$0")/../lib.sh"
FIX="$FIXTURES"
[ -d "$FIX" ] || { echo "ok - # SKIP no fixtures at $FIX"; exit 0; }
# every provider the fixtures name answers through the fake upstream
for p in openai langgenius/openai/openai deepseek bedrock langgenius/bedrock/bedrock \
    ollama tongyi langgenius/siliconflow/siliconflow siliconflow volcengine_maas \
    openai_api_compatible anthropic zhipuai moonshot; do
	v=$(printf '%s' "${p##*/}" | tr 'a-z-' 'A-Z_')
	export "DIFYCGI_PROVIDER_${v}_MODEL=gpt-test"
done
export DIFYCGI_DEFAULT_PROVIDER=fake DIFYCGI_PROVIDER_FAKE_MODEL=gpt-test
# the replies a fixture's later nodes parse, as a real model would give them
cat > "$T/answers.json" <<'JSON'
[["You are to write a long article based on a provided",
  "[{\"section\": \"Spring\", \"bullets\": [\"rain\", \"blossom\"]}, {\"section\": \"Summer\", \"bullets\": [\"sun\"]}]"],
 ["你是一个编写春联的专家",
  "{\"top\": \"春回大地千山秀\", \"bottom\": \"日暖神州万象新\", \"banner\": \"万象更新\"}"]]
JSON
# dify-http-json fetches the URL of its input: a local page stands in
mkdir -p "$T/www" && echo '{"hello": "world", "n": 1}' > "$T/www/data.json"
python3 -m http.server --bind 127.0.0.1 --directory "$T/www" 0 > "$T/www.log" 2>&1 &
PIDS="$PIDS $!"
export DIFYCGI_ALLOW_PRIVATE_URLS=1
start_fake_upstream --answers "$T/answers.json"
for p in OPENAI DEEPSEEK BEDROCK OLLAMA TONGYI SILICONFLOW VOLCENGINE_MAAS \
    OPENAI_API_COMPATIBLE ANTHROPIC ZHIPUAI MOONSHOT; do
	export "DIFYCGI_PROVIDER_${p}_BASE_URL=$DIFYCGI_PROVIDER_FAKE_BASE_URL"
done
start_server

printf '\x89PNG\r\n\x1a\n' > "$T/in.png"
head -c 64 /dev/zero >> "$T/in.png"
inputs_for() {	# the app's required inputs with plain values
	req GET /v1/parameters "$1"
	params=$BODY
	fid=$(curl -s -H "Authorization: Bearer $1" -F "file=@$T/in.png;type=image/png" \
	    -F user=fx "$BASE/v1/files/upload" | jq -r '.id // empty')
	file="{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$fid\"}"
	printf '%s' "$params" | jq -c --argjson f "$file" '[.user_input_form[] | to_entries[0] |
	    select(.value.required == true) | {key: .value.variable, value:
	    (if .key == "number" then 1 elif .key == "select" then (.value.options[0] // "a")
	     elif .key == "checkbox" then false elif .key == "file-list" then [$f]
	     elif .key == "file" then $f else "hello world" end)}] | from_entries'
}

imported=0 ran=0 total=0
[ -n "${REPORT:-}" ] && printf '| file | mode | imported | ran | why not |\n|---|---|---|---|---|\n' > "$REPORT"
for f in "$FIX"/*.yml; do
	name=$(basename "$f" .yml)
	total=$((total + 1))
	mode=$(grep -m1 '^  mode:' "$f" | awk '{print $2}')
	why="" imp=no run=no
	if id=$("$ADMIN" app import "$f" 2> "$T/import.err"); then
		imp=yes imported=$((imported + 1))
		key=$("$ADMIN" key create "$id")
		in=$(inputs_for "$key")
		if [ "$name" = dify-http-json ]; then
			wport=$(grep -o 'port [0-9]*' "$T/www.log" | head -1 | cut -d' ' -f2)
			in=$(printf '%s' "$in" | jq -c --arg u "http://127.0.0.1:$wport/data.json" 'map_values($u)')
		fi
		if [ "$mode" = workflow ]; then
			jreq POST /v1/workflows/run "$key" "{\"inputs\":$in,\"user\":\"fx\"}" --max-time 60
			st=$(printf '%s' "$BODY" | jq -r '.data.status // .code // "?"')
			err=$(printf '%s' "$BODY" | jq -r '.data.error // .message // ""')
			[ "$st" = succeeded ] && run=yes
		else
			jreq POST /v1/chat-messages "$key" "{\"inputs\":$in,\"query\":\"hello world\",\"user\":\"fx\"}" --max-time 60
			st=$STATUS
			err=$(printf '%s' "$BODY" | jq -r '.message // ""')
			[ "$STATUS" = 200 ] && run=yes
		fi
		if [ $run = yes ]; then
			ran=$((ran + 1))
			echo "ok - $name ($mode) imports and runs"
		else
			why=$(printf '%s' "$err" | tr '\n|' '  ' | cut -c1-160)
			if [ -n "$why" ]; then
				echo "ok - $name ($mode) imports and fails clearly: $why"
			else
				not_ok "$name ($mode) fails without a clear message ($st)"
			fi
		fi
	else
		why=$(head -3 "$T/import.err" | tr '\n|' '  ' | cut -c1-160)
		echo "ok - $name does not import, and says why: $why"
	fi
	[ -n "${REPORT:-}" ] && printf '| %s | %s | %s | %s | %s |\n' "$name" "$mode" "$imp" "$run" "$why" >> "$REPORT"
done
echo "# imported $imported of $total, ran $ran of $total"
[ -n "${REPORT:-}" ] && printf '\n%s of %s import, %s of %s run end to end.\n' "$imported" "$total" "$ran" "$total" >> "$REPORT"
finish
