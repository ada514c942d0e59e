#!/bin/bash
# backends: postgresql
# dify-admin db copy: an SQLite install with conversations, messages,
# feedback, workflow runs, keys and files in both stores moves into
# PostgreSQL; every row is checked, and the API answers the same through
# a server on the copy as through the server on the file: the same
# listings, the same keys, the same files, and new rows after the old.
. "$(dirname "$0")/../lib.sh"
plan 14
PG_URL=$DIFYCGI_DATABASE_URL
PG_KEY=$DIFYCGI_SECRET_KEY
# the install to move: SQLite, its own secret in the data directory
unset DIFYCGI_DATABASE_URL DIFYCGI_SECRET_KEY
export DIFYCGI_FILE_STORE=local
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model gpt-test)"
read -r W KW <<<"$(new_app workflow --provider fake --model echo)"
for i in 1 2 3; do
	jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"q$i\",\"user\":\"u$((i % 2))\",\"auto_generate_name\":false}"
done
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
MID=$(printf '%s' "$BODY" | jq -r .id)
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"q4\",\"user\":\"u1\",\"conversation_id\":\"$CID\"}"
jreq POST "/v1/messages/$MID/feedbacks" "$KA" '{"rating":"like","content":"good","user":"u1"}'
jreq POST /v1/workflows/run "$KW" '{"inputs":{"query":"Hi"},"user":"u1"}'
RUN=$(printf '%s' "$BODY" | jq -r .workflow_run_id)
printf 'local bytes \001\377' > "$T/local.txt"
req POST /v1/files/upload "$KA" -F "file=@$T/local.txt;type=text/plain" -F user=u1
F_LOCAL=$(printf '%s' "$BODY" | jq -r .id)
U_LOCAL=$(printf '%s' "$BODY" | jq -r .source_url)
stop_server
# a second file in the database store, of more than one chunk
export DIFYCGI_FILE_STORE=database
start_server
head -c 2500000 /dev/urandom > "$T/big.bin"
req POST /v1/files/upload "$KA" -F "file=@$T/big.bin;filename=big.pdf;type=application/pdf" -F user=u1
F_DB=$(printf '%s' "$BODY" | jq -r .id)
U_DB=$(printf '%s' "$BODY" | jq -r .source_url)
check "the SQLite install has its data" test -n "$F_DB" -a "$F_DB" != null -a -n "$RUN"

snapshot() {	# the API's view, the same whatever the store
	req GET "/v1/conversations?user=u1" "$KA"; echo "$BODY" | jq -S .
	req GET "/v1/messages?user=u1&conversation_id=$CID" "$KA"; echo "$BODY" | jq -S .
	req GET "/v1/app/feedbacks" "$KA"; echo "$BODY" | jq -S .
	req GET "/v1/workflows/run/$RUN" "$KW"; echo "$BODY" | jq -S .
	req GET "/v1/workflows/logs" "$KW"; echo "$BODY" | jq -S .
	req GET /v1/info "$KA"; echo "$BODY" | jq -S .
}
snapshot > "$T/before.json"
stop_server

SECRET=$(cat "$T/secret_key")
"$ADMIN" db copy --from "$DIFYCGI_DB" --to "$PG_URL" > "$T/copy.out" 2> "$T/copy.err"
check "db copy succeeds" test $? = 0
check "... and says every row was checked" grep -q '^copied; every row checked$' "$T/copy.out"
check "... with a line a table, counts matching the file" bash -c "
    [ \"\$(grep '^messages ' '$T/copy.out' | awk '{print \$2, \$5}')\" = \"$(sqlite3 "$DIFYCGI_DB" 'SELECT count(*) FROM messages') $(sqlite3 "$DIFYCGI_DB" 'SELECT count(*) FROM messages')\" ] &&
    [ \"\$(grep '^file_chunks ' '$T/copy.out' | awk '{print \$2}')\" = 3 ]"
"$ADMIN" db copy --from "$DIFYCGI_DB" --to "$PG_URL" > /dev/null 2> "$T/copy2.err"
check "a second copy into the now full database is refused, and changes nothing" bash -c "
    [ $? != 0 ] && grep -q 'holds apps already' '$T/copy2.err' &&
    [ \"\$(psql -X -A -t '$PG_URL' -c 'SELECT count(*) FROM apps')\" = 2 ]"

# the same install, on PostgreSQL, with the old secret kept
export DIFYCGI_DATABASE_URL=$PG_URL DIFYCGI_SECRET_KEY=$SECRET
start_server
snapshot > "$T/after.json"
cmp -s "$T/before.json" "$T/after.json" ||
    diff "$T/before.json" "$T/after.json" | head -20 | sed 's/^/#   /'
check "conversations, messages, feedback, runs, logs and info read the same from the copy" \
    cmp -s "$T/before.json" "$T/after.json"
req GET /v1/info "$KA"
check "the old keys work on the copy" is_status 200
# signed before the move: the same secret, so the same links open
curl -s -o "$T/local.after" "$BASE/${U_LOCAL#http://127.0.0.1:*/}"
check "a file of the local store still opens by its old signed link (it stays in the data directory)" \
    cmp -s "$T/local.txt" "$T/local.after"
curl -s -o "$T/big.after" "$BASE/${U_DB#http://127.0.0.1:*/}"
check "a file of the database store came over byte for byte" cmp -s "$T/big.bin" "$T/big.after"
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"after the move\",\"user\":\"u1\",\"conversation_id\":\"$CID\"}"
check "the conversation goes on on PostgreSQL" is_status 200
req GET "/v1/messages?user=u1&conversation_id=$CID" "$KA"
check "... and its new message lists after the copied ones" body_is '[.data[].query] == ["q3", "q4", "after the move"]'
read -r N KN <<<"$(new_app chat --provider fake --model gpt-test)"
check "new rows get new rowids past the copied ones (identity sequences moved on)" \
    test "$(psql -X -A -t "$PG_URL" -c "SELECT CAST(rowid > (SELECT max(rowid) FROM apps WHERE id != '$N') AS INTEGER) FROM apps WHERE id = '$N'")" = 1
check "the SQLite file is left as it was: a usable install" \
    test "$(sqlite3 "$DIFYCGI_DB" 'SELECT count(*) FROM apps')" = 2
check "no database error in the programs' logs" bash -c "! grep -h 'ERROR db' '$T'/srv/*.log"
finish
