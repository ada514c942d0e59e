#!/bin/bash
# App metadata endpoints for every mode: /info, /parameters, /meta, /site,
# the 404/405 bodies and the common headers.
. "$(dirname "$0")/../lib.sh"
plan 47
start_server
for mode in completion chat agent-chat workflow advanced-chat; do
	read -r id key <<<"$(new_app $mode --description "about $mode" --tag t1 --tag t2 \
	    --author "Ann" --input text-input:city:City:required:max=48 \
	    --input select:tone:Tone:options=formal\|casual:default=formal \
	    --input number:count --input paragraph:notes --opening-statement "Hello!" \
	    --suggested-question "What can you do?" --feature speech_to_text=on)"
	req GET /v1/info "$key"
	check "$mode: /info has name, description, tags, mode and author" \
	    body_is ".name == \"test $mode\" and .description == \"about $mode\" and .tags == [\"t1\",\"t2\"] and .mode == \"$mode\" and .author_name == \"Ann\""
	req GET /v1/parameters "$key"
	check "$mode: /parameters carries every feature key" body_is '
	    (keys | sort) == (["opening_statement","suggested_questions",
	    "suggested_questions_after_answer","speech_to_text","text_to_speech",
	    "retriever_resource","annotation_reply","more_like_this","user_input_form",
	    "sensitive_word_avoidance","file_upload","system_parameters"] | sort)'
	check "$mode: /parameters has Dify's system parameters in MB" body_is '
	    .system_parameters == {"image_file_size_limit":10,"video_file_size_limit":100,
	    "audio_file_size_limit":50,"file_size_limit":15,"workflow_file_upload_limit":10}'
	check "$mode: /parameters passes stored features and defaults the rest" body_is '
	    .speech_to_text == {"enabled":true} and .more_like_this == {"enabled":false}
	    and .sensitive_word_avoidance == {"enabled":false,"type":"","configs":[]}
	    and .file_upload.image.transfer_methods == ["remote_url","local_file"]'
	if [ $mode = workflow ]; then
		check "workflow: the input form is the start node's variables" \
		    body_is '.user_input_form[0].paragraph.variable == "query" and .user_input_form[0].paragraph.required == true'
	else
		check "$mode: /parameters has the opening statement and questions" \
		    body_is '.opening_statement == "Hello!" and .suggested_questions == ["What can you do?"]'
		check "$mode: the input form has each item kind" body_is '
		    .user_input_form[0]["text-input"] == {"required":true,"variable":"city","label":"City","max_length":48,"default":""}
		    and .user_input_form[1].select.options == ["formal","casual"]
		    and .user_input_form[1].select.default == "formal"
		    and .user_input_form[2].number.variable == "count"
		    and .user_input_form[3].paragraph.required == false'
	fi
	req GET /v1/meta "$key"
	if [ $mode = agent-chat ]; then
		check "agent-chat: /meta lists the agent's tool icons" body_is '.tool_icons.current_time.content | type == "string"'
	else
		check "$mode: /meta has empty tool_icons" body_is '. == {"tool_icons":{}}'
	fi
	req GET /v1/site "$key"
	check "$mode: /site without a site is 403 forbidden" \
	    expect_error 403 forbidden "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server."
done

read -r id key <<<"$(new_app chat --site --icon "🤖" --icon-background "#FFEAD5" --description "d")"
req GET /v1/site "$key"
check "/site has every WebApp key with Dify's defaults" body_is '
    .title == "test chat" and .icon_type == "emoji" and .icon == "🤖"
    and .icon_background == "#FFEAD5" and .icon_url == null and .description == "d"
    and .default_language == "en-US" and .show_workflow_steps == false
    and .chat_color_theme_inverted == false and .custom_disclaimer == ""
    and (keys | length) == 15'
req GET "/v1/info?user=someone" "$key"
check "a user query parameter on /info is ignored" is_status 200
check "responses carry X-Version and X-Env" \
    bash -c "grep -qi '^X-Version: ' '$T/headers' && grep -qi '^X-Env: ' '$T/headers'"
check "JSON responses say application/json" grep -qi '^Content-Type: application/json' "$T/headers"

req GET /v1/no-such-thing "$key"
check "an unknown path gets Dify's JSON 404" \
    expect_error 404 not_found "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
jreq POST /v1/info "$key" '{}'
check "a wrong method gets Dify's JSON 405" \
    expect_error 405 method_not_allowed "The method is not allowed for the requested URL."
req GET /health ""
check "/health answers ok without a key" body_is '.status == "ok" and (.pid | type) == "number"'

# A chat app with no model config cannot serve /parameters
echo '{"model":null}' > "$T/cfg.json"
id=$("$ADMIN" app create --mode chat --name broken)
sql "UPDATE apps SET config = '{}' WHERE id = '$id'"
key=$("$ADMIN" key create "$id")
req GET /v1/parameters "$key"
check "an app without model configuration gets 400 app_unavailable" \
    expect_error 400 app_unavailable "App unavailable, please check your app configurations."
finish
