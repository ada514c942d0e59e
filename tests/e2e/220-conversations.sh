#!/bin/bash
# Conversations, messages, feedback, variables and suggestions: paging
# edges, rename, delete, and isolation between end users and apps.
. "$(dirname "$0")/../lib.sh"
plan 70
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model gpt-test --feature suggested_questions_after_answer=on)"
read -r B KB <<<"$(new_app chat --provider fake --model gpt-test)"
read -r C KC <<<"$(new_app completion --provider fake --model gpt-test)"

chat() {	# chat KEY USER [CONVERSATION] -> $CID $MID
	c=""
	[ -n "${3:-}" ] && c=",\"conversation_id\":\"$3\""
	jreq POST /v1/chat-messages "$1" "{\"inputs\":{},\"query\":\"q\",\"user\":\"$2\",\"auto_generate_name\":false$c}"
	CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
	MID=$(printf '%s' "$BODY" | jq -r .id)
}
for i in 1 2 3 4 5; do chat "$KA" u1; done
CONVS=$(sql "SELECT id FROM conversations WHERE app_id = '$A' ORDER BY rowid" | tr '\n' ' ')
# distinct timestamps for ordering checks
n=0; for c in $CONVS; do sql "UPDATE conversations SET created_at = 1000 + $n, updated_at = 2000 - $n WHERE id = '$c'"; n=$((n + 1)); done
set -- $CONVS; C1=$1 C2=$2 C3=$3 C4=$4 C5=$5
chat "$KA" u2

req GET "/v1/conversations?user=u1&limit=2" "$KA"
check "the first page holds the two most recently updated, with has_more" \
    body_is ".limit == 2 and .has_more == true and [.data[].id] == [\"$C1\",\"$C2\"]"
check "conversation items have Dify's keys" body_is '
    .data[0] | (keys | sort) == ["created_at","id","inputs","introduction","name","status","updated_at"]
    and .name == "New conversation" and .status == "normal"'
req GET "/v1/conversations?user=u1&limit=2&last_id=$C2" "$KA"
check "last_id continues after that row" body_is "[.data[].id] == [\"$C3\",\"$C4\"] and .has_more == true"
req GET "/v1/conversations?user=u1&limit=2&last_id=$C4" "$KA"
check "the last page has has_more false" body_is "[.data[].id] == [\"$C5\"] and .has_more == false"
req GET "/v1/conversations?user=u1&limit=4&last_id=$C1" "$KA"
check "a full last page has has_more false (look-ahead)" body_is ".has_more == false and (.data | length) == 4"
req GET "/v1/conversations?user=u1&sort_by=created_at&limit=3" "$KA"
check "sort_by=created_at is ascending by creation" body_is "[.data[].id] == [\"$C1\",\"$C2\",\"$C3\"]"
req GET "/v1/conversations?user=u1&sort_by=-created_at&limit=1" "$KA"
check "sort_by=-created_at is descending" body_is "[.data[].id] == [\"$C5\"]"
req GET "/v1/conversations?user=u1&sort_by=updated_at&limit=1" "$KA"
check "sort_by=updated_at is ascending by update" body_is "[.data[].id] == [\"$C5\"]"
req GET "/v1/conversations?user=u1&sort_by=name" "$KA"
check "an unknown sort_by gets 400" expect_error 400 invalid_param \
    "sort_by must be one of created_at, -created_at, updated_at, -updated_at"
for l in 0 101 -1 abc 99999999999999999999; do
	req GET "/v1/conversations?user=u1&limit=$l" "$KA"
	check "limit=$l is refused with 400 invalid_param" \
	    expect_error 400 invalid_param "limit must be an integer between 1 and 100"
done
req GET "/v1/conversations?user=u1&limit=&last_id=&pinned=false&first_id=x" "$KA"
check "empty limit/last_id count as absent and pinned/first_id are ignored" body_is '.limit == 20 and (.data | length) == 5'
req GET "/v1/conversations?user=u1&last_id=0f0f0f0f-0000-4000-8000-000000000000" "$KA"
check "an unknown last_id gets 404 'Last Conversation Not Exists.'" \
    expect_error 404 not_found "Last Conversation Not Exists."
req GET "/v1/conversations?user=u2&last_id=$C1" "$KA"
check "another user's conversation as last_id is also a 404" \
    expect_error 404 not_found "Last Conversation Not Exists."
req GET "/v1/conversations?user=u2" "$KA"
check "an end user sees only their own conversations" body_is '(.data | length) == 1'
req GET "/v1/conversations?user=u1" "$KB"
check "the same user string on another app sees nothing" body_is '.data == []'
req GET "/v1/conversations" "$KC"
check "conversations of a completion app: not_chat_app" \
    expect_error 400 not_chat_app "Please check if your app mode matches the right API route."
req GET "/v1/conversations" "$KA"
check "without user the shared DEFAULT-USER is used" body_is '.data == []'

# rename
jreq POST "/v1/conversations/$C1/name" "$KA" '{"name":"Trip plans","user":"u1"}'
check "rename answers the conversation with its new name" body_is ".id == \"$C1\" and .name == \"Trip plans\""
check "rename bumps updated_at" test "$(sql "SELECT CAST(updated_at > 2000 AS INTEGER) FROM conversations WHERE id = '$C1'")" = 1
jreq POST "/v1/conversations/$C1/name" "$KA" '{"name":"  ","user":"u1"}'
check "a blank name without auto_generate gets 400" \
    expect_error 400 invalid_param "name is required when auto_generate is false"
jreq POST "/v1/conversations/$C1/name" "$KA" '{"auto_generate":true,"user":"u1"}'
check "auto_generate names it from the first query with the model" body_is '.name == "Hello from the fake upstream."'
jreq POST "/v1/conversations/$C1/name" "$KA" '{"name":"x","user":"u2"}'
check "renaming another user's conversation gets 404" expect_error 404 not_found "Conversation Not Exists."
jreq POST "/v1/conversations/not-a-uuid/name" "$KA" '{"name":"x","user":"u1"}'
check "a malformed id in the path is the router's 404" expect_error 404 not_found \
    "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."

# messages
for i in 1 2 3 4; do chat "$KA" u1 "$C2"; done
MSGS=$(sql "SELECT id FROM messages WHERE conversation_id = '$C2' ORDER BY created_at, seq" | tr '\n' ' ')
n=0; for m in $MSGS; do sql "UPDATE messages SET created_at = 5000 + $n WHERE id = '$m'"; n=$((n + 1)); done
set -- $MSGS; M1=$1 M2=$2 M3=$3 M4=$4 M5=$5
req GET "/v1/messages?user=u1&conversation_id=$C2&limit=2" "$KA"
check "the newest page of messages comes oldest first with has_more" \
    body_is ".has_more == true and [.data[].id] == [\"$M4\",\"$M5\"]"
check "message items have Dify's keys" body_is '.data[0] | (keys | sort) == (["agent_thoughts","answer","answer_tokens","conversation_id","created_at","currency","error","extra_contents","feedback","id","inputs","message_files","message_tokens","parent_message_id","provider_response_latency","query","retriever_resources","status","total_price","total_tokens"] | sort)
    and .parent_message_id == "00000000-0000-0000-0000-000000000000" and .status == "normal" and .feedback == null'
req GET "/v1/messages?user=u1&conversation_id=$C2&limit=2&first_id=$M4" "$KA"
check "first_id pages backwards" body_is "[.data[].id] == [\"$M2\",\"$M3\"] and .has_more == true"
req GET "/v1/messages?user=u1&conversation_id=$C2&limit=2&first_id=$M2" "$KA"
check "the first message ends the history" body_is "[.data[].id] == [\"$M1\"] and .has_more == false"
req GET "/v1/messages?user=u1&conversation_id=$C2&first_id=${M1}x" "$KA"
check "a malformed first_id gets 400" expect_error 400 invalid_param "first_id must be a valid UUID"
OTHER=$(sql "SELECT id FROM messages WHERE conversation_id = '$C1' LIMIT 1")
req GET "/v1/messages?user=u1&conversation_id=$C2&first_id=$OTHER" "$KA"
check "a first_id from another conversation gets 404 'First Message Not Exists.'" \
    expect_error 404 not_found "First Message Not Exists."
req GET "/v1/messages?user=u1" "$KA"
check "conversation_id is required" expect_error 400 invalid_param "conversation_id is required"
req GET "/v1/messages?user=u2&conversation_id=$C2" "$KA"
check "another user's conversation's messages: 404" expect_error 404 not_found "Conversation Not Exists."
req GET "/v1/messages?user=u1&conversation_id=$C2&limit=101" "$KA"
check "a message limit over 100 is refused" \
    expect_error 400 invalid_param "limit must be an integer between 1 and 100"

# feedback
jreq POST "/v1/messages/$M5/feedbacks" "$KA" '{"rating":"like","content":"good","user":"u1"}'
check "a like answers success" body_is '. == {"result":"success"}'
req GET "/v1/messages?user=u1&conversation_id=$C2&limit=1" "$KA"
check "the message shows the user's own feedback" body_is '.data[0].feedback == {"rating":"like"}'
jreq POST "/v1/messages/$M5/feedbacks" "$KA" '{"rating":"dislike","user":"u1"}'
check "a second rating updates the first" \
    test "$(sql "SELECT count(*), max(rating), CAST(max(content) IS NULL AS INTEGER) FROM message_feedbacks WHERE message_id = '$M5'")" = "1|dislike|1"
req GET "/v1/app/feedbacks" "$KA"
check "/app/feedbacks lists the app's feedback with ISO timestamps and no paging keys" body_is '
    (keys == ["data"]) and (.data | length) == 1 and .data[0].rating == "dislike"
    and .data[0].from_source == "user" and .data[0].from_account_id == null
    and (.data[0].created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"))'
req GET "/v1/app/feedbacks" "$KB"
check "another app's key sees none of it" body_is '.data == []'
req GET "/v1/app/feedbacks?limit=102" "$KA"
check "/app/feedbacks limit is 1..101" \
    expect_error 400 invalid_param "limit must be an integer between 1 and 101"
jreq POST "/v1/messages/$M5/feedbacks" "$KA" '{"rating":null,"user":"u1"}'
check "rating null revokes the feedback" test "$(sql "SELECT count(*) FROM message_feedbacks WHERE message_id = '$M5'")" = 0
jreq POST "/v1/messages/$M5/feedbacks" "$KA" '{"user":"u1"}'
check "revoking with nothing to revoke gets Dify's 400" \
    expect_error 400 invalid_param "rating cannot be None when feedback not exists"
jreq POST "/v1/messages/$M5/feedbacks" "$KA" '{"rating":"love","user":"u1"}'
check "an unknown rating gets 400" expect_error 400 invalid_param "rating must be 'like', 'dislike' or null"
jreq POST "/v1/messages/$M5/feedbacks" "$KA" '{"rating":"like","user":"u2"}'
check "feedback on another user's message gets 404 'Message Not Exists.'" \
    expect_error 404 not_found "Message Not Exists."
jreq POST "/v1/messages/$M5/feedbacks" "$KB" '{"rating":"like","user":"u1"}'
check "feedback through another app's key gets 404" expect_error 404 not_found "Message Not Exists."
jreq POST "/v1/messages/$M5/feedbacks" "$KA" '{"rating":"like"}'
check "feedback needs the user" expect_error 400 invalid_param "Arg user must be provided."

# suggested questions
req GET "/v1/messages/$M5/suggested?user=u1" "$KA"
check "suggested answers success with a data list" body_is '.result == "success" and (.data | type) == "array"'
req GET "/v1/messages/$M5/suggested" "$KA"
check "suggested needs the user" expect_error 400 invalid_param "Arg user must be provided."
req GET "/v1/messages/$M5/suggested?user=u2" "$KA"
check "suggested for another user's message gets 404" expect_error 404 not_found "Message Not Exists."
chat "$KB" u1
req GET "/v1/messages/$MID/suggested?user=u1" "$KB"
check "suggested with the feature off gets 400 bad_request" \
    expect_error 400 bad_request "Suggested Questions Is Disabled."

# variables (a chat app has none until a chatflow declares some)
req GET "/v1/conversations/$C2/variables?user=u1" "$KA"
check "a chat conversation has no variables" body_is '. == {"limit":20,"has_more":false,"data":[]}'
sql "INSERT INTO conversation_variables (id, conversation_id, app_id, name, value_type, value, description, created_at, seq, updated_at) VALUES
    ('11111111-1111-4111-8111-111111111111', '$C2', '$A', 'user_pref', 'string', '\"dark\"', 'pref', 10, 1, 10),
    ('22222222-2222-4222-8222-222222222222', '$C2', '$A', 'count', 'number', '42', '', 11, 2, 11),
    ('33333333-3333-4333-8333-333333333333', '$C2', '$A', 'tags', 'array[string]', '[\"a\",\"b\"]', NULL, 12, 3, 12),
    ('44444444-4444-4444-8444-444444444444', '$C2', '$A', 'flag', 'boolean', 'true', NULL, 13, 4, 13)"
req GET "/v1/conversations/$C2/variables?user=u1" "$KA"
check "variables are listed oldest first with values as Python str()" body_is '
    [.data[].value] == ["dark","42","['"'"'a'"'"', '"'"'b'"'"']","True"] and .data[0].value_type == "string"
    and .data[0].description == "pref" and (.data[0] | keys | length) == 7'
req GET "/v1/conversations/$C2/variables?user=u1&limit=2" "$KA"
check "variables page with has_more" body_is '.has_more == true and (.data | length) == 2'
req GET "/v1/conversations/$C2/variables?user=u1&last_id=22222222-2222-4222-8222-222222222222" "$KA"
check "last_id continues after that variable" body_is '[.data[].name] == ["tags","flag"]'
req GET "/v1/conversations/$C2/variables?user=u1&variable_name=PREF" "$KA"
check "variable_name filters by case-insensitive substring" body_is '[.data[].name] == ["user_pref"]'
req GET "/v1/conversations/$C2/variables?user=u1&variable_name=a%20b" "$KA"
check "a variable_name with other characters gets 400" expect_error 400 invalid_param \
    "Variable name can only contain letters, numbers, hyphens (-), underscores (_), and periods (.)"
req GET "/v1/conversations/$C2/variables?user=u1&last_id=0f0f0f0f-0000-4000-8000-000000000000" "$KA"
check "an unknown variable last_id gets 400 with an empty message" expect_error 400 invalid_param ""
req GET "/v1/conversations/$C2/variables?user=u2" "$KA"
check "another user's conversation variables: 404" expect_error 404 not_found "Conversation Not Exists."
jreq PUT "/v1/conversations/$C2/variables/22222222-2222-4222-8222-222222222222" "$KA" '{"value":"x","user":"u1"}'
check "a value of the wrong type gets 400 bad_request 'Type mismatch'" \
    expect_error 400 bad_request "Type mismatch: variable 'count' expects number, but got str type"
jreq PUT "/v1/conversations/$C2/variables/22222222-2222-4222-8222-222222222222" "$KA" '{"value":7.5,"user":"u1"}'
check "a number variable takes a number and answers the variable" body_is '.value == "7.5" and .name == "count"'
JSON='{"value":["x",1],"user":"u1"}' req PATCH "/v1/conversations/$C2/variables/33333333-3333-4333-8333-333333333333" "$KA"
check "PATCH works as PUT (Python SDK) and array element types are checked" \
    expect_error 400 bad_request "Type mismatch: variable 'tags' expects array[string], but got list type"
jreq PUT "/v1/conversations/$C2/variables/44444444-4444-4444-8444-444444444444" "$KA" '{"user":"u1"}'
check "value is required" expect_error 400 invalid_param "value is required"
jreq PUT "/v1/conversations/$C2/variables/55555555-5555-4555-8555-555555555555" "$KA" '{"value":1,"user":"u1"}'
check "an unknown variable gets 404 'Conversation Variable Not Exists.'" \
    expect_error 404 not_found "Conversation Variable Not Exists."

# delete
req DELETE "/v1/conversations/$C3" "$KA" -H 'Content-Type: application/json' --data-binary '{"user":"u1"}'
check "delete answers 204 with an empty body" bash -c "[ '$STATUS' = 204 ] && [ -z '$BODY' ]"
req DELETE "/v1/conversations/$C3" "$KA" -H 'Content-Type: application/json' --data-binary '{"user":"u1"}'
check "deleting it again gets 404" expect_error 404 not_found "Conversation Not Exists."
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"q\",\"user\":\"u1\",\"conversation_id\":\"$C3\"}"
check "a deleted conversation cannot be continued" expect_error 404 not_found "Conversation Not Exists."
req DELETE "/v1/conversations/$C4" "$KA" -H 'Content-Type: application/json' --data-binary '{"user":"u2"}'
check "deleting another user's conversation gets 404 and keeps it" \
    eval '[ "$STATUS" = 404 ] && [ "$(sql "SELECT deleted FROM conversations WHERE id = '\''$C4'\''")" = 0 ]'
req DELETE "/v1/conversations/$C4" "$KA"
check "DELETE without a JSON body gets 415, as Dify's" expect_error 415 unsupported_media_type \
    "Did not attempt to load JSON data because the request Content-Type was not 'application/json'."
finish
