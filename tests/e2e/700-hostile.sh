#!/bin/bash
# Hostile input: every refusal is a Dify-style 4xx JSON body, nothing
# crashes, and the database is unchanged where the request was refused.
. "$(dirname "$0")/../lib.sh"
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model gpt-test --input text-input:city:City:max=20)"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"hello","user":"u1"}'
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
MID=$(printf '%s' "$BODY" | jq -r .id)
snapshot() { sqlite3 "$DIFYCGI_DB" .dump | grep -a -v '^INSERT INTO end_users\|tasks' | md5sum; }

is_4xx_json() {
	[ "${STATUS:0:1}" = 4 ] && printf '%s' "$BODY" | jq -e '
	    (.code | type) == "string" and (.message | type) == "string" and (.status | type) == "number"' >/dev/null 2>&1
}
hostile() {	# hostile NAME METHOD PATH BODY: refused, database unchanged
	snap=$(snapshot)
	jreq "$2" "$3" "$KA" "$4"
	check "$1 gets a JSON 4xx" is_4xx_json
	check "$1 leaves the database unchanged" test "$(snapshot)" = "$snap"
}

hostile "deeply nested JSON (5000 levels)" POST /v1/chat-messages "$(python3 -c 'print("{\"a\":" * 5000 + "1" + "}" * 5000)')"
hostile "invalid UTF-8 in a string" POST /v1/chat-messages "$(printf '{"inputs":{},"query":"\xff\xfe","user":"u"}')"
hostile "an overlong UTF-8 encoding" POST /v1/chat-messages "$(printf '{"inputs":{},"query":"\xc0\xaf","user":"u"}')"
hostile "a lone surrogate escape" POST /v1/chat-messages '{"inputs":{},"query":"\udc00","user":"u","conversation_id":"\ud800"}'
hostile "trailing garbage after the JSON" POST /v1/chat-messages '{"inputs":{},"query":"x","user":"u"} xyz'
hostile "a JSON array body" POST /v1/chat-messages '[1,2,3]'
hostile "a NUL byte inside a name" POST "/v1/conversations/$CID/name" '{"name":"a\u0000b","user":"u1"}'
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"x","user":"u","n":NaN}'
check "NaN in an ignored field is accepted, as Python's json reads it" is_status 200
for f in inputs query user response_mode conversation_id files auto_generate_name; do
	for v in '[]' '{}' 'true' '12' '"x"' 'null'; do
		JSONB=$(jq -cn --arg f "$f" --argjson v "$v" '{"inputs":{},"query":"q","user":"u"} | .[$f] = $v')
		jreq POST /v1/chat-messages "$KA" "$JSONB"
		case "$STATUS" in 200|4??) ok=1 ;; *) ok=0 ;; esac
		[ $ok = 1 ] && [ "${STATUS:0:1}" = 4 ] && ! is_4xx_json && ok=0
		[ $ok = 1 ] && echo "ok - chat field $f = $v: 200 or a JSON 4xx ($STATUS)" || {
			not_ok "chat field $f = $v: 200 or a JSON 4xx"; echo "#   $STATUS $BODY"; }
	done
done
for f in name auto_generate user; do
	for v in '[]' '{}' '12' 'true'; do
		jreq POST "/v1/conversations/$CID/name" "$KA" "$(jq -cn --arg f "$f" --argjson v "$v" '{"name":"n","user":"u1"} | .[$f] = $v')"
		case "$STATUS" in 200|4??) echo "ok - rename field $f = $v: 200 or 4xx ($STATUS)" ;; *) not_ok "rename field $f = $v ($STATUS)" ;; esac
	done
done
for f in rating content user; do
	for v in '[]' '{}' '12' 'true'; do
		jreq POST "/v1/messages/$MID/feedbacks" "$KA" "$(jq -cn --arg f "$f" --argjson v "$v" '{"rating":"like","user":"u1"} | .[$f] = $v')"
		case "$STATUS" in 200|4??) echo "ok - feedback field $f = $v: 200 or 4xx ($STATUS)" ;; *) not_ok "feedback field $f = $v ($STATUS)" ;; esac
	done
done
jreq POST "/v1/messages/$MID/feedbacks" "$KA" '{"rating":null,"user":"u1"}'

for q in "limit=99999999999999999999" "limit=-5" "limit=1e3" "last_id=../../etc/passwd" \
    "last_id=%00" "sort_by=updated_at;DROP%20TABLE%20conversations" "user=%27%20OR%201%3D1--" \
    "limit=%00" "user=$(head -c 300 /dev/zero | tr '\0' a)"; do
	req GET "/v1/conversations?$q" "$KA"
	check "GET /v1/conversations?${q:0:40}: 200 or a JSON 4xx, no 5xx" bash -c "[ '${STATUS:0:1}' = 2 ] || [ '${STATUS:0:1}' = 4 ]"
done
req GET "/v1/messages?user=u1&conversation_id=$CID'%20OR%20'1'='1" "$KA"
check "SQL in conversation_id is just a bad UUID" body_is '.status == 400'
req GET "/v1/conversations/..%2F..%2Fetc%2Fpasswd/variables" "$KA"
check "path traversal in an id is the router's 404" body_is '.status == 404 and .code == "not_found"'
req GET "/v1/conversations/$CID%00/variables?user=u1" "$KA"
check "a NUL in a path is refused (by the web server)" bash -c "[ '${STATUS:0:1}' = 4 ]"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris'"'"'); DROP TABLE messages;--"},"query":"x\"; DELETE FROM apps;","user":"Robert'"'"'); DROP TABLE end_users;--"}'
check "SQL metacharacters in every string are stored as text" bash -c "[ '$STATUS' = 400 ] || [ '$STATUS' = 200 ]"
check "... and every table is still there" test "$(sql "SELECT count(*) FROM apps") $(sql "SELECT count(*) > 0 FROM messages")" = "1 1"
jreq POST /v1/chat-messages/x%0d%0aSet-Cookie:%20a=b/stop "$KA" '{"user":"u1"}'
check "CRLF in a path is not echoed into headers" bash -c "! grep -qi '^Set-Cookie' '$T/headers'"
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KA" \
    -H "X-Long: $(head -c 20000 /dev/zero | tr '\0' a)" "$BASE/v1/info"); BODY=$(cat "$T/body")
check "a 20 KB header is served or refused, never a crash" bash -c "[ '${STATUS:0:1}' = 2 ] || [ '${STATUS:0:1}' = 4 ]"
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $(head -c 5000 /dev/zero | tr '\0' a)" "$BASE/v1/info"); BODY=$(cat "$T/body")
check "a 5000-byte key gets Dify's 401" expect_error 401 unauthorized "Access token is invalid"
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KA" \
    -H 'Content-Type: application/json' -H 'Content-Length: 99999999999' --data-binary '{}' "$BASE/v1/chat-messages"); BODY=$(cat "$T/body")
check "a lying huge Content-Length is refused without waiting" bash -c "[ '${STATUS:0:1}' = 4 ]"
req GET /v1/info "$KA"
check "the server still answers" is_status 200
finish
