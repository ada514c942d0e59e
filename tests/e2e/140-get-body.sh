#!/bin/bash
# A GET with a JSON body (axios sends one when given "data", as do some
# SDK wrappers) is answered as if it had none, as Dify does: lighttpd must
# not answer its own HTML 400 (server.http-parseopts "method-get-body" in
# tools/gen-lighttpd.sh), no program may answer 400 or 415 for it, and the
# body is consumed so that the connection serves the next request.  Every
# family with GET routes; the shipped server configs are checked by
# tests/deploy-lib.sh (tests/e2e/5*.sh).
. "$(dirname "$0")/../lib.sh"
GETS=8
plan $((GETS + 3))
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model echo)"
read -r W KW <<<"$(new_app workflow)"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"hi","user":"u1","response_mode":"blocking"}'
CONV=$(printf '%s' "$BODY" | jq -r .conversation_id)
MSG=$(printf '%s' "$BODY" | jq -r .message_id)
printf 'hello' > "$T/a.txt"
req POST /v1/files/upload "$KA" -F "file=@$T/a.txt;type=text/plain" -F user=u1
FILE=$(printf '%s' "$BODY" | jq -r .id)
GETBODY='{"user":"someone-else","inputs":{},"conversation_id":"x","limit":1}'

# same_as_without KEY PATH: status, content type and body are those of the
# same GET without a body (family in the name)
n=0
same_as_without() {
	n=$((n + 1))
	req GET "$2" "$1"
	_s=$STATUS _b=$BODY _t=$(grep -i '^Content-Type:' "$T/headers")
	JSON=$GETBODY req GET "$2" "$1"
	STATUS="$STATUS (without a body: $_s)"
	_p=$(printf '%s' "$2" | sed -E 's/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/{id}/g')
	check "$3: GET $_p with a JSON body answers as without one ($_s)" eval '
	    [ "${STATUS%% *}" = "$_s" ] && [ "$BODY" = "$_b" ] &&
	    [ "$(grep -i "^Content-Type:" "$T/headers")" = "$_t" ] &&
	    case $_t in *application/json*) true ;; *) false ;; esac'
}
same_as_without "" /v1/ app.fcgi
same_as_without "$KA" /v1/info app.fcgi
same_as_without "$KA" /v1/parameters app.fcgi
same_as_without "$KA" "/v1/conversations?user=u1" conversation.fcgi
same_as_without "$KA" "/v1/messages?user=u1&conversation_id=$CONV" conversation.fcgi
same_as_without "$KA" "/v1/messages/$MSG/suggested?user=u1" conversation.fcgi
same_as_without "$KW" "/v1/workflows/logs" workflow.fcgi
same_as_without "$KA" "/v1/files/$FILE/preview?user=u1" file.fcgi
[ $n = $GETS ] || not_ok "the plan counts $GETS GETs, the script asks $n"

req GET "/v1/conversations?user=u1" "$KA"
check "the query's user counts, not the body's: u1 sees its conversation" \
    body_is "(.data | map(.id)) == [\"$CONV\"]"

# the next request on the same connection is answered: the body was read
for size in 60000 3000000; do
	head -c $size /dev/zero | tr '\0' x > "$T/pad"
	printf '{"user":"u1","pad":"%s"}' "$(cat "$T/pad")" > "$T/get.json"
	out=$(curl -s -o /dev/null -w '%{http_code} %{num_connects} ' -X GET \
	    -H "Authorization: Bearer $KA" -H 'Content-Type: application/json' \
	    --data-binary @"$T/get.json" "$BASE/v1/info" --next -s \
	    -o "$T/body" -w '%{http_code} %{num_connects}' \
	    -H "Authorization: Bearer $KA" "$BASE/v1/info")
	STATUS="" BODY="status, connections: $out; $(head -c 200 "$T/body")"
	check "after a GET with a $((size / 1000)) KB body the same connection answers the next request" \
	    eval '[ "$out" = "200 1 200 0" ] && jq -e ".name == \"test chat\"" "$T/body" >/dev/null'
done
finish
