#!/bin/bash
# Hostile input: each request gets the one answer Dify's own parsing gives
# it (service_api/app/*.py: pydantic payloads, validate_app_token's "if
# not user" and str(user)), with our own validator text where Dify's is
# pydantic's; where Dify itself fails with a 500 (deep nesting, a JSON
# array body, a conversation_id of true or 12) we answer Dify's 400
# instead.  Nothing crashes, and the database is unchanged where the
# request was refused.
. "$(dirname "$0")/../lib.sh"
plan 108
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model gpt-test --input text-input:city:City:max=20)"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"hello","user":"u1"}'
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
MID=$(printf '%s' "$BODY" | jq -r .id)
HELLO="Hello from the fake upstream."
BADJSON="Invalid JSON payload received or JSON payload is empty."
snapshot() { db_dump | grep -a -v '^INSERT INTO end_users\|tasks' | md5sum; }

# answered CODE MESSAGE: an exact Dify error, or with CODE "200" a new
# chat answer
answered() {
	if [ "$1" = 200 ]; then
		is_status 200 && body_is ".event == \"message\" and .answer == \"$HELLO\"
		    and (.conversation_id | length) == 36 and .mode == \"chat\""
	else
		expect_error 400 "$1" "$2"
	fi
}
hostile() {	# hostile NAME METHOD PATH BODY CODE MESSAGE: refused, no change
	snap=$(snapshot)
	jreq "$2" "$3" "$KA" "$4"
	check "$1: 400 $5 \"$6\"" expect_error 400 "$5" "$6"
	check "$1 leaves the database unchanged" test "$(snapshot)" = "$snap"
}

# Dify: json.loads raises RecursionError, Flask lets it through: a 500
hostile "deeply nested JSON (5000 levels)" POST /v1/chat-messages \
    "$(python3 -c 'print("{\"a\":" * 5000 + "1" + "}" * 5000)')" bad_request "$BADJSON"
hostile "invalid UTF-8 in a string" POST /v1/chat-messages \
    "$(printf '{"inputs":{},"query":"\xff\xfe","user":"u"}')" bad_request "$BADJSON"
hostile "an overlong UTF-8 encoding" POST /v1/chat-messages \
    "$(printf '{"inputs":{},"query":"\xc0\xaf","user":"u"}')" bad_request "$BADJSON"
# Dify: Python's json reads a lone surrogate, and the text cannot be
# stored as UTF-8 later; we refuse it as the invalid text it is, like
# invalid UTF-8 (105-user-ids checks each place a string arrives)
hostile "a lone surrogate escape in conversation_id" POST /v1/chat-messages \
    '{"inputs":{},"query":"\udc00","user":"u","conversation_id":"\ud800"}' \
    bad_request "$BADJSON"
hostile "trailing garbage after the JSON" POST /v1/chat-messages \
    '{"inputs":{},"query":"x","user":"u"} xyz' bad_request "$BADJSON"
# Dify: request.get_json().get("user") on a list, an AttributeError: a 500
hostile "a JSON array body" POST /v1/chat-messages '[1,2,3]' bad_request "$BADJSON"
# Dify: PostgreSQL's ValueError, 400 invalid_param in its own words
hostile "a NUL byte inside a name" POST "/v1/conversations/$CID/name" \
    '{"name":"a\u0000b","user":"u1"}' invalid_param "name must not contain NUL characters"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"x","user":"u","n":NaN}'
check "NaN in an ignored field is accepted, as Python's json reads it" answered 200

# ChatRequestPayload field by field: what pydantic (lax) accepts, and the
# user as validate_app_token reads it
while read -r f v want; do
	JSONB=$(jq -cn --arg f "$f" --argjson v "$v" '{"inputs":{},"query":"q","user":"u"} | .[$f] = $v')
	jreq POST /v1/chat-messages "$KA" "$JSONB"
	code=${want%%:*} msg=${want#*:}
	check "chat field $f = $v: ${want/:/ }" answered "$code" "$msg"
done <<'EOF'
inputs [] invalid_param:inputs must be an object
inputs {} 200:
inputs true invalid_param:inputs must be an object
inputs 12 invalid_param:inputs must be an object
inputs "x" invalid_param:inputs must be an object
inputs null invalid_param:inputs is required
query [] invalid_param:query must be a string
query {} invalid_param:query must be a string
query true invalid_param:query must be a string
query 12 invalid_param:query must be a string
query "x" 200:
query null invalid_param:query is required
user [] invalid_param:Arg user must be provided.
user {} invalid_param:Arg user must be provided.
user false invalid_param:Arg user must be provided.
user 0 invalid_param:Arg user must be provided.
user true 200:
user 12 200:
user "x" 200:
user null invalid_param:Arg user must be provided.
response_mode [] invalid_param:response_mode must be 'blocking' or 'streaming'
response_mode {} invalid_param:response_mode must be 'blocking' or 'streaming'
response_mode true invalid_param:response_mode must be 'blocking' or 'streaming'
response_mode 12 invalid_param:response_mode must be 'blocking' or 'streaming'
response_mode "x" invalid_param:response_mode must be 'blocking' or 'streaming'
response_mode null 200:
conversation_id [] 200:
conversation_id {} 200:
conversation_id false 200:
conversation_id true invalid_param:conversation_id must be a string
conversation_id 12 invalid_param:conversation_id must be a string
conversation_id "x" invalid_param:conversation_id must be a valid UUID
conversation_id null 200:
files [] 200:
files {} invalid_param:files must be an array
files true invalid_param:files must be an array
files 12 invalid_param:files must be an array
files "x" invalid_param:files must be an array
files null 200:
auto_generate_name [] invalid_param:auto_generate_name must be a boolean
auto_generate_name {} invalid_param:auto_generate_name must be a boolean
auto_generate_name true 200:
auto_generate_name 12 invalid_param:auto_generate_name must be a boolean
auto_generate_name "x" invalid_param:auto_generate_name must be a boolean
auto_generate_name null invalid_param:auto_generate_name must be a boolean
EOF
check "a user given as true is the end user \"True\", as Python's str() has it" \
    test "$(sql "SELECT count(*) FROM end_users WHERE app_id = '$A' AND session_id IN ('True', '12')")" = 2
check "a false conversation_id started new conversations, never continued one" \
    test "$(sql "SELECT count(*) FROM messages WHERE conversation_id = '$CID'")" = 1

# ConversationRenamePayload; the user is optional here: a false one is
# the shared DEFAULT-USER, who does not own the conversation
while read -r f v want; do
	jreq POST "/v1/conversations/$CID/name" "$KA" "$(jq -cn --arg f "$f" --argjson v "$v" '{"name":"n","user":"u1"} | .[$f] = $v')"
	case $want in
	200) check "rename field $f = $v: 200, the name generated" \
		body_is ".id == \"$CID\" and .name == \"$HELLO\" and .status == \"normal\"" ;;
	*) check "rename field $f = $v: ${want//:/ }" expect_error "${want%%:*}" "$(cut -d: -f2 <<<"$want")" "$(cut -d: -f3- <<<"$want")" ;;
	esac
done <<'EOF'
name [] 400:invalid_param:name must be a string
name {} 400:invalid_param:name must be a string
name 12 400:invalid_param:name must be a string
name true 400:invalid_param:name must be a string
auto_generate [] 400:invalid_param:auto_generate must be a boolean
auto_generate {} 400:invalid_param:auto_generate must be a boolean
auto_generate 12 400:invalid_param:auto_generate must be a boolean
auto_generate true 200
auto_generate null 400:invalid_param:auto_generate must be a boolean
user [] 404:not_found:Conversation Not Exists.
user {} 404:not_found:Conversation Not Exists.
user 12 404:not_found:Conversation Not Exists.
user true 404:not_found:Conversation Not Exists.
EOF

# MessageFeedbackPayload; the user is required
while read -r f v want; do
	jreq POST "/v1/messages/$MID/feedbacks" "$KA" "$(jq -cn --arg f "$f" --argjson v "$v" '{"rating":"like","user":"u1"} | .[$f] = $v')"
	check "feedback field $f = $v: ${want//:/ }" expect_error "${want%%:*}" "$(cut -d: -f2 <<<"$want")" "$(cut -d: -f3- <<<"$want")"
done <<'EOF'
rating [] 400:invalid_param:rating must be a string
rating {} 400:invalid_param:rating must be a string
rating 12 400:invalid_param:rating must be a string
rating true 400:invalid_param:rating must be a string
content [] 400:invalid_param:content must be a string
content {} 400:invalid_param:content must be a string
content 12 400:invalid_param:content must be a string
content true 400:invalid_param:content must be a string
user [] 400:invalid_param:Arg user must be provided.
user {} 400:invalid_param:Arg user must be provided.
user 12 404:not_found:Message Not Exists.
user true 404:not_found:Message Not Exists.
EOF
check "no refused feedback was stored" test "$(sql "SELECT count(*) FROM message_feedbacks")" = 0

# ConversationListQuery in the query string
LONG=$(head -c 300 /dev/zero | tr '\0' a)
while read -r q want; do
	req GET "/v1/conversations?$q" "$KA"
	case $want in
	empty) check "GET /v1/conversations?${q:0:40}: 200, an empty page" \
		body_is '. == {"limit":20,"has_more":false,"data":[]}' ;;
	*) check "GET /v1/conversations?${q:0:40}: 400 $want" expect_error 400 invalid_param "$want" ;;
	esac
done <<EOF
limit=99999999999999999999 limit must be an integer between 1 and 100
limit=-5 limit must be an integer between 1 and 100
limit=1e3 limit must be an integer between 1 and 100
last_id=../../etc/passwd last_id must be a valid UUID
sort_by=updated_at;DROP%20TABLE%20conversations sort_by must be one of created_at, -created_at, updated_at, -updated_at
user=%27%20OR%201%3D1-- empty
user=$LONG user must be a UTF-8 string of at most 255 bytes
EOF
# lighttpd refuses control characters in a URL with its own HTML 400
# before any program sees them (Dify: 400 invalid_param, or a 404 for a
# path that matches no route)
lighttpd_400() { is_status 400 && grep -q '<title>400 Bad Request</title>' "$T/body"; }
for q in "conversations?last_id=%00" "conversations?limit=%00" "conversations/$CID%00/variables?user=u1"; do
	req GET "/v1/$q" "$KA"
	check "GET /v1/${q:0:40}: a NUL in the URL is the web server's 400" lighttpd_400
done
req GET "/v1/messages?user=u1&conversation_id=$CID'%20OR%20'1'='1" "$KA"
check "SQL in conversation_id is just a bad UUID" \
    expect_error 400 invalid_param "conversation_id must be a valid UUID"
req GET "/v1/conversations/..%2F..%2Fetc%2Fpasswd/variables" "$KA"
check "path traversal in an id is the router's 404" expect_error 404 not_found \
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."

CITY="x'); DROP TABLE m;--"
QUERY='x"; DELETE FROM apps;'
USERS="Robert'); DROP TABLE end_users;--"
jreq POST /v1/chat-messages "$KA" "$(jq -cn --arg c "$CITY" --arg q "$QUERY" --arg u "$USERS" \
    '{inputs: {city: $c}, query: $q, user: $u}')"
check "SQL metacharacters in every string are answered as text" answered 200
M=$(printf '%s' "$BODY" | jq -r .id)
check "... stored exactly as they came" test \
    "$(sql "SELECT $(jx m.inputs '$.city') || '|' || m.query || '|' || u.session_id FROM messages m JOIN end_users u ON u.id = m.end_user_id WHERE m.id = '$M'")" \
    = "$CITY|$QUERY|$USERS"
check "... and every table is still there" test "$(sql "SELECT count(*) FROM apps") $(sql "SELECT CAST(count(*) > 0 AS INTEGER) FROM messages")" = "1 1"
jreq POST /v1/chat-messages/x%0d%0aSet-Cookie:%20a=b/stop "$KA" '{"user":"u1"}'
check "CRLF in a path is the web server's 400, never echoed into headers" \
    bash -c "grep -q '^HTTP/1.1 400 ' '$T/headers' && ! grep -qi '^Set-Cookie' '$T/headers'"
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KA" \
    -H "X-Long: $(head -c 20000 /dev/zero | tr '\0' a)" "$BASE/v1/info"); BODY=$(cat "$T/body")
check "a 20 KB header is the web server's 431" is_status 431
STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $(head -c 5000 /dev/zero | tr '\0' a)" "$BASE/v1/info"); BODY=$(cat "$T/body")
check "a 5000-byte key gets Dify's 401" expect_error 401 unauthorized "Access token is invalid"
STATUS=$(curl -s --max-time 10 -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KA" \
    -H 'Content-Type: application/json' -H 'Content-Length: 99999999999' --data-binary '{}' "$BASE/v1/chat-messages"); BODY=$(cat "$T/body")
check "a lying huge Content-Length is the web server's 413, without waiting for the body" is_status 413
req GET /v1/info "$KA"
check "the server still answers" is_status 200
finish
