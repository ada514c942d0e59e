#!/bin/bash
# Authentication: every failure case answers Dify's exact status and body,
# keys are hashed at rest, and a key reaches only its own app.
. "$(dirname "$0")/../lib.sh"
plan 22
start_server
read -r A KA <<<"$(new_app chat --site)"
read -r B KB <<<"$(new_app completion)"

req GET /v1/info ""
check "a missing Authorization header gets 401 with Dify's message" \
    expect_error 401 unauthorized "Authorization header must be provided and start with 'Bearer'"
check "401 answers carry WWW-Authenticate: Bearer realm=\"api\"" \
    grep -qi '^WWW-Authenticate: Bearer realm="api"' "$T/headers"

STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer" "$BASE/v1/info"); BODY=$(cat "$T/body")
check "a header without a space gets the 'must be provided' 401" \
    expect_error 401 unauthorized "Authorization header must be provided and start with 'Bearer'"

STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Basic $KA" "$BASE/v1/info"); BODY=$(cat "$T/body")
check "a scheme other than Bearer gets 401 'scheme must be Bearer'" \
    expect_error 401 unauthorized "Authorization scheme must be 'Bearer'"

STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: bEaReR $KA" "$BASE/v1/info"); BODY=$(cat "$T/body")
check "the scheme is case-insensitive" is_status 200

req GET /v1/info app-thisisnotarealkey000000
check "an unknown key gets 401 'Access token is invalid'" \
    expect_error 401 unauthorized "Access token is invalid"

req GET /v1/info "dataset-abcdefghijklmnopqrstuvwx"
check "a knowledge-API key is not accepted" \
    expect_error 401 unauthorized "Access token is invalid"

req GET /v1/info "$KA"
check "a valid key reads its own app" body_is '.name == "test chat" and .mode == "chat"'
req GET /v1/info "$KB"
check "another app's key reads the other app, never the first" \
    body_is '.name == "test completion" and .mode == "completion"'

KID=$("$ADMIN" key list "$A" | awk '{print $1}')
"$ADMIN" key revoke "$KID" >/dev/null
req GET /v1/info "$KA"
check "a revoked key gets 401 'Access token is invalid'" \
    expect_error 401 unauthorized "Access token is invalid"

KA2=$("$ADMIN" key create "$A")
sql "UPDATE apps SET status = 'archived' WHERE id = '$A'"
req GET /v1/info "$KA2"
check "an app whose status is not normal gets 403 'status is abnormal'" \
    expect_error 403 forbidden "The app's status is abnormal."
sql "UPDATE apps SET status = 'normal', enable_api = 0 WHERE id = '$A'"
req GET /v1/info "$KA2"
check "an app with API access off gets 403 'API service has been disabled'" \
    expect_error 403 forbidden "The app's API service has been disabled."
"$ADMIN" app delete "$A" >/dev/null
req GET /v1/info "$KA2"
check "a key whose app was deleted gets 403 'The app no longer exists.'" \
    expect_error 403 forbidden "The app no longer exists."

check "keys are stored hashed: the database's files hold no key" \
    bash -c "! grep -r -a -q -e '$KA2' -e '$KB' $(db_files | tr '\n' ' ') 2>/dev/null"

# ---- issue 11: revoking by a prefix that names several keys changes nothing
read -r C KC1 <<<"$(new_app chat)"
KC2=$("$ADMIN" key create "$C")
KC3=$("$ADMIN" key create "$C")
check "key list shows a key's first 12 characters (8 random), so prefixes rarely collide" \
    bash -c "'$ADMIN' key list '$C' | awk '{ print \$3 }' | grep -qxF '${KC1:0:12}...'"
sql "UPDATE api_keys SET prefix = 'app-Same' WHERE app_id = '$C' AND prefix != '${KC3:0:12}'"
before=$(sql "SELECT id, revoked_at FROM api_keys ORDER BY id")
"$ADMIN" key revoke app-Same >"$T/out" 2>"$T/err"; rc=$?
check "key revoke with a prefix of two keys fails and says so" \
    bash -c "[ $rc != 0 ] && [ ! -s '$T/out' ] && grep -qF 'app-Same names several keys' '$T/err'"
check "and revokes none of them" [ "$(sql "SELECT id, revoked_at FROM api_keys ORDER BY id")" = "$before" ]
req GET /v1/info "$KC1"; s1=$STATUS
req GET /v1/info "$KC2"
check "both keys still answer" [ "$s1 $STATUS" = "200 200" ]
"$ADMIN" key revoke "${KC3:0:12}" >"$T/out"; rc=$?
req GET /v1/info "$KC3"; s3=$STATUS
req GET /v1/info "$KC1"
check "key revoke with a prefix of one key revokes that key alone" \
    [ "$rc $s3 $STATUS" = "0 401 200" ]

STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -X OPTIONS -D "$T/headers" "$BASE/v1/chat-messages")
check "an OPTIONS preflight succeeds without a key" is_status 200
check "the preflight allows the Authorization header" \
    grep -qi '^Access-Control-Allow-Headers:.*Authorization' "$T/headers"
req GET /v1/ ""
check "GET /v1/ needs no key and answers the index" \
    body_is '.welcome == "Dify OpenAPI" and .api_version == "v1" and (.server_version | type) == "string"'
finish
