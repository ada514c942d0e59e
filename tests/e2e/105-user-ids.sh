#!/bin/bash
# issue 11: end-user ids and the other strings we store are kept exactly or
# refused.  A NUL (JSON \u0000, query %00, a raw byte in a form field) would
# cut "alice\u0000x" to "alice", and json-c turns every lone surrogate
# escape into U+FFFD, so "\ud800" and "\udbff" would be one user: each is a
# 400 in every place a user (or a name, input or query) arrives, and the
# database stays as it was.
. "$(dirname "$0")/../lib.sh"
plan 23
start_server
read -r A KA <<<"$(new_app chat --input text-input:city:City)"
read -r W KW <<<"$(new_app workflow)"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi","user":"alice","response_mode":"blocking","auto_generate_name":false}'
check "alice chats" is_status 200
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
snapshot() { sql "SELECT session_id, id FROM end_users ORDER BY 1, 2; SELECT count(*) FROM messages; SELECT count(*) FROM conversations; SELECT count(*) FROM workflow_runs; SELECT id, name FROM conversations ORDER BY 1" | md5sum; }
NUL_USER="user must not contain NUL characters"
BAD_JSON="Invalid JSON payload received or JSON payload is empty."

# refused NAME STATUS CODE MESSAGE: the last answer, and nothing stored
refused() {
	if expect_error "$2" "$3" "$4" && [ "$(snapshot)" = "$snap" ]; then
		ok "$1"
	else
		not_ok "$1"
		echo "#   status=$STATUS body=$(printf '%s' "$BODY" | head -c 300)"
	fi
}
snap=$(snapshot)

# ---- JSON bodies ----
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi","user":"alice\u0000x","response_mode":"blocking"}'
refused "a JSON user with a NUL is refused, not read as alice" 400 invalid_param "$NUL_USER"
jreq POST "/v1/conversations/$CID/name" "$KA" '{"name":"x","user":"alice\u0000"}'
refused "so on every endpoint that takes a user in its body" 400 invalid_param "$NUL_USER"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi","user":"\ud800","response_mode":"blocking"}'
refused "a lone high surrogate escape in a user is refused" 400 bad_request "$BAD_JSON"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi","user":"\udfff","response_mode":"blocking"}'
refused "a lone low surrogate escape too" 400 bad_request "$BAD_JSON"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi","user":"x\ud800\u0041","response_mode":"blocking"}'
refused "a high surrogate followed by no low one too" 400 bad_request "$BAD_JSON"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi","user":"\\ud800","response_mode":"blocking","auto_generate_name":false}'
check "an escaped backslash before ud800 is text, not an escape" \
    eval '[ "$STATUS" = 200 ] && [ "$(sql "SELECT count(*) FROM end_users WHERE session_id = '\''\ud800'\''")" = 1 ]'
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi","user":"\ud83d\ude00","response_mode":"blocking","auto_generate_name":false}'
check "a surrogate pair is one character, stored exactly" \
    eval '[ "$STATUS" = 200 ] && [ "$(sql "SELECT count(*) FROM end_users WHERE session_id = '\''😀'\''")" = 1 ]'
snap=$(snapshot)

# ---- the other strings a body stores ----
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Par\u0000is"},"query":"hi","user":"alice","response_mode":"blocking"}'
refused "an input value with a NUL is refused, naming inputs" 400 invalid_param "inputs must not contain NUL characters"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city\u0000x":"Paris"},"query":"hi","user":"alice","response_mode":"blocking"}'
refused "an input name with a NUL too" 400 invalid_param "field names must not contain NUL characters"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi\u0000there","user":"alice","response_mode":"blocking"}'
refused "a query with a NUL is refused" 400 invalid_param "query must not contain NUL characters"
jreq POST "/v1/conversations/$CID/name" "$KA" '{"name":"a\u0000b","user":"alice"}'
refused "a conversation name with a NUL is refused" 400 invalid_param "name must not contain NUL characters"
jreq POST /v1/workflows/run "$KW" '{"inputs":{"query":"a\u0000b"},"user":"alice","response_mode":"blocking"}'
refused "a workflow input with a NUL is refused" 400 invalid_param "inputs must not contain NUL characters"
jreq POST /v1/workflows/run "$KW" '{"inputs":{"query":"\udc00"},"user":"alice","response_mode":"blocking"}'
refused "a workflow input with a lone surrogate too" 400 bad_request "$BAD_JSON"
jreq POST /v1/chat-messages "$KA" '{"inputs":{"city":"Paris"},"query":"hi","user\u0000x":"bob","response_mode":"blocking"}'
refused "a field name with a NUL (user\\u0000x is not user)" 400 invalid_param "field names must not contain NUL characters"

# ---- query strings ----
# lighttpd answers a %00 in a query string itself; Apache and nginx pass it
# on, so these go to the programs as a CGI request would
# cgi PROGRAM PATH QUERY KEY -> $STATUS, $BODY
cgi() {
	REQUEST_METHOD=GET SCRIPT_NAME="$2" PATH_INFO= QUERY_STRING="$3" \
	    REQUEST_URI="$2?$3" HTTP_AUTHORIZATION="Bearer $4" \
	    "$BUILD_DIR/cgi-bin/$1.fcgi" < /dev/null > "$T/cgi" 2>> "$T/cgi.log"
	STATUS=$(sed -n '1s/^Status: \([0-9]*\).*/\1/p' "$T/cgi")
	BODY=$(sed '1,/^\r$/d' "$T/cgi")
}
cgi conversation /v1/conversations "user=alice&limit=1" "$KA"
check "a CGI request reads the query string as lighttpd's do" body_is ".data[0].id == \"$CID\""
cgi conversation /v1/conversations "user=alice%00x" "$KA"
refused "a query-string user with %00 is refused, not read as alice" 400 invalid_param "$NUL_USER"
cgi conversation /v1/messages "conversation_id=$CID&user=alice%00" "$KA"
refused "so on every endpoint that takes a user in its query" 400 invalid_param "$NUL_USER"
cgi conversation /v1/conversations "user%00x=bob" "$KA"
refused "a parameter name cut to user by its %00 is refused, not read as user" 400 invalid_param "$NUL_USER"
req GET "/v1/conversations?user=%ED%A0%80" "$KA"
refused "an encoded surrogate in a query-string user is refused" 400 invalid_param "user must be a UTF-8 string of at most 255 bytes"
req GET "/v1/conversations?user=alice&limit=1" "$KA"
check "alice in a query string is alice" body_is ".data[0].id == \"$CID\""

# ---- multipart form fields ----
{ printf -- '--XyZ\r\nContent-Disposition: form-data; name="user"\r\n\r\nalice\0x\r\n'
  printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n'; } > "$T/form"
req POST /v1/files/upload "$KA" --data-binary "@$T/form" -H "Content-Type: multipart/form-data; boundary=XyZ"
refused "a form user with a NUL byte is refused, not read as alice" 400 invalid_param "$NUL_USER"
check "and no file was stored" eval '[ "$(sql "SELECT count(*) FROM upload_files")" = 0 ] && [ -z "$(ls -A "$T/files/$A" 2>/dev/null)" ]'
finish
