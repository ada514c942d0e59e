#!/bin/bash
# GET /v1/end-users/{end_user_id} (Dify service_api/end_user/end_user.py):
# the EndUserDetail of an end user of the key's app, made by a chat, a
# completion or an upload, with ISO timestamps; another app's end user, an
# unknown id and a malformed one are not found.
. "$(dirname "$0")/../lib.sh"
plan 13
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model echo)"
read -r C KC <<<"$(new_app completion --provider fake --model echo)"
read -r B KB <<<"$(new_app chat --provider fake --model echo)"
NF_MSG="End user not found."
WZ_404="The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."

# uid APP SESSION: the row id of an end user
uid() { sql "SELECT id FROM end_users WHERE app_id = '$1' AND session_id = '$2'"; }
# iso T: Dify's naive UTC ISO form of a unix time
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }

# is_detail APP ID SESSION ANONYMOUS: the body is that end user's detail,
# every field of Dify's EndUserDetail and nothing else
is_detail() {
	_c=$(sql "SELECT created_at FROM end_users WHERE id = '$2'")
	_u=$(sql "SELECT updated_at FROM end_users WHERE id = '$2'")
	[ "$STATUS" = 200 ] && printf '%s' "$BODY" | jq -e --arg app "$1" \
	    --arg id "$2" --arg s "$3" --argjson anon "$4" \
	    --arg c "$(iso "$_c")" --arg u "$(iso "$_u")" '
	    (keys | sort) == (["id","tenant_id","app_id","type",
	    "external_user_id","name","is_anonymous","session_id",
	    "created_at","updated_at"] | sort)
	    and .id == $id and .tenant_id == $app and .app_id == $app
	    and .type == "service_api" and .external_user_id == $s
	    and .name == null and .is_anonymous == $anon and .session_id == $s
	    and .created_at == $c and .updated_at == $u
	    and (.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"))' \
	    >/dev/null
}

jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"hi","user":"alice","response_mode":"blocking"}'
UA=$(uid "$A" alice)
req GET "/v1/end-users/$UA" "$KA"
check "the end user of a chat request is returned with Dify's fields" \
    is_detail "$A" "$UA" alice false

jreq POST /v1/completion-messages "$KC" '{"inputs":{},"user":"bob","response_mode":"blocking"}'
UC=$(uid "$C" bob)
req GET "/v1/end-users/$UC" "$KC"
check "the end user of a completion request is returned with Dify's fields" \
    is_detail "$C" "$UC" bob false

printf 'hello' > "$T/a.txt"
req POST /v1/files/upload "$KA" -F "file=@$T/a.txt;type=text/plain" -F user=carol
UF=$(printf '%s' "$BODY" | jq -r .created_by)
STATUS_UP=$STATUS
req GET "/v1/end-users/$UF" "$KA"
check "an upload's created_by names its end user (carol)" \
    eval '[ "$STATUS_UP" = 201 ] && is_detail "$A" "$UF" carol false'

req POST /v1/files/upload "$KA" -F "file=@$T/a.txt;type=text/plain"
UD=$(printf '%s' "$BODY" | jq -r .created_by)
req GET "/v1/end-users/$UD" "$KA"
check "the end user of a request without user is DEFAULT-USER, anonymous" \
    is_detail "$A" "$UD" DEFAULT-USER true

req GET "/v1/end-users/$UA?user=somebody-else" "$KA"
check "a ?user= (the SDKs send one) is ignored" is_detail "$A" "$UA" alice false

# app B's end user "alice" is another row
jreq POST /v1/chat-messages "$KB" '{"inputs":{},"query":"hi","user":"alice","response_mode":"blocking"}'
UB=$(uid "$B" alice)
check "the same user string in app B is another end user" \
    eval '[ -n "$UB" ] && [ "$UB" != "$UA" ]'
req GET "/v1/end-users/$UB" "$KA"
check "app B's end user asked with app A's key: 404 end_user_not_found" \
    expect_error 404 end_user_not_found "$NF_MSG"
req GET "/v1/end-users/$UA" "$KB"
check "app A's end user asked with app B's key: 404 end_user_not_found" \
    expect_error 404 end_user_not_found "$NF_MSG"
req GET /v1/end-users/3f0e9a52-6c1d-4b8e-9f27-5a4d2c8b1e07 "$KA"
check "a random uuid: 404 end_user_not_found" \
    expect_error 404 end_user_not_found "$NF_MSG"
# Dify's route takes <uuid:end_user_id>: anything else is no route at all
req GET /v1/end-users/not-a-uuid "$KA"
check "a malformed id gets the router's 404 not_found, as Dify's <uuid:...> route gives" \
    expect_error 404 not_found "$WZ_404"
req GET "/v1/end-users/${UA}x" "$KA"
check "a uuid with a character more is malformed too" \
    expect_error 404 not_found "$WZ_404"
req GET "/v1/end-users/$UA" app-thisisnotarealkey000000
check "a bad key gets the 401 before any lookup" \
    expect_error 401 unauthorized "Access token is invalid"
jreq POST "/v1/end-users/$UA" "$KA" "{}"
check "POST is 405 method_not_allowed" \
    expect_error 405 method_not_allowed "The method is not allowed for the requested URL."
finish
