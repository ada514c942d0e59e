#!/bin/bash
# Isolation matrix: two apps, two keys each, two end users each.  Every
# endpoint that takes an id is tried with every other party's id: no
# leaks (Dify's 404s), and the rows are unchanged.
. "$(dirname "$0")/../lib.sh"
plan 10
start_fake_upstream
start_server
read -r A KA1 <<<"$(new_app chat --provider fake --model gpt-test --feature suggested_questions_after_answer=on)"
KA2=$("$ADMIN" key create "$A")
read -r B KB1 <<<"$(new_app chat --provider fake --model gpt-test --feature suggested_questions_after_answer=on)"
KB2=$("$ADMIN" key create "$B")

declare -A CONV MSG VAR KEY APPOF
KEY[A1]=$KA1 KEY[A2]=$KA2 KEY[B1]=$KB1 KEY[B2]=$KB2
for party in A:x A:y B:x B:y; do
	app=${party%%:*} user=${party##*:}
	jreq POST /v1/chat-messages "${KEY[${app}1]}" "{\"inputs\":{},\"query\":\"secret of $party\",\"user\":\"$user\"}"
	CONV[$party]=$(printf '%s' "$BODY" | jq -r .conversation_id)
	MSG[$party]=$(printf '%s' "$BODY" | jq -r .id)
	appid=$([ $app = A ] && echo "$A" || echo "$B")
	VAR[$party]=$(python3 -c 'import uuid; print(uuid.uuid4())')
	sql "INSERT INTO conversation_variables (id, conversation_id, app_id, name, value_type, value, created_at, updated_at) VALUES ('${VAR[$party]}', '${CONV[$party]}', '$appid', 'v', 'string', '\"s\"', 1, 1)"
	jreq POST "/v1/messages/${MSG[$party]}/feedbacks" "${KEY[${app}1]}" "{\"rating\":\"like\",\"user\":\"$user\"}"
done
# conversation naming runs after each answer: all four named, nothing
# changes the rows any more
named() { [ "$(sql "SELECT count(*) FROM conversations WHERE name = 'Hello from the fake upstream.'")" = 4 ]; }
wait_for 20 named
snapshot() { db_dump | grep -a -v '^INSERT INTO end_users' | md5sum; }
SNAP=$(snapshot)

leaks=0 tries=0
try() {	# try EXPECT METHOD PATH KEY [JSON]
	tries=$((tries + 1))
	if [ -n "${5:-}" ]; then jreq "$2" "$3" "$4" "$5"; else req "$2" "$3" "$4"; fi
	if [ "$STATUS" != "$1" ] || grep -q 'secret of' "$T/body"; then
		leaks=$((leaks + 1))
		echo "#   $2 $3 -> $STATUS $(head -c 200 "$T/body")"
	fi
}
for me in A:x A:y B:x B:y; do
	app=${me%%:*} user=${me##*:}
	for other in A:x A:y B:x B:y; do
		[ "$me" = "$other" ] && continue
		oc=${CONV[$other]} om=${MSG[$other]} ov=${VAR[$other]}
		for k in ${app}1 ${app}2; do
			key=${KEY[$k]}
			try 404 GET "/v1/messages?user=$user&conversation_id=$oc" "$key"
			try 404 GET "/v1/messages?user=$user&conversation_id=${CONV[$me]}&first_id=$om" "$key"
			try 404 GET "/v1/conversations?user=$user&last_id=$oc" "$key"
			try 404 POST "/v1/conversations/$oc/name" "$key" "{\"name\":\"stolen\",\"user\":\"$user\"}"
			try 404 GET "/v1/conversations/$oc/variables?user=$user" "$key"
			try 404 PUT "/v1/conversations/$oc/variables/$ov" "$key" "{\"value\":\"stolen\",\"user\":\"$user\"}"
			try 404 PUT "/v1/conversations/${CONV[$me]}/variables/$ov" "$key" "{\"value\":\"stolen\",\"user\":\"$user\"}"
			try 404 POST "/v1/messages/$om/feedbacks" "$key" "{\"rating\":\"dislike\",\"user\":\"$user\"}"
			try 404 GET "/v1/messages/$om/suggested?user=$user" "$key"
			try 404 POST /v1/chat-messages "$key" "{\"inputs\":{},\"query\":\"q\",\"user\":\"$user\",\"conversation_id\":\"$oc\"}"
			JSON='{"user":"'$user'"}' try 404 DELETE "/v1/conversations/$oc" "$key"
		done
	done
done
check "no party reads or changes another's conversations, messages, variables or feedback ($tries tries, $leaks leaks)" \
    test "$leaks" = 0
check "every refused attempt left the rows unchanged" test "$(snapshot)" = "$SNAP"
for me in A:x A:y B:x B:y; do
	app=${me%%:*} user=${me##*:}
	req GET "/v1/conversations?user=$user" "${KEY[${app}2]}"
	check "$me sees exactly its own conversation through its app's second key" \
	    body_is "[.data[].id] == [\"${CONV[$me]}\"]"
	req GET "/v1/app/feedbacks" "${KEY[${app}2]}"
	check "$me's app lists only its own feedback" body_is '(.data | length) == 2'
done
finish
