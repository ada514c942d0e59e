#!/bin/bash
# Embeddings and rerank through lib/model (upstream_embed, upstream_rerank)
# driven by dify-admin model embed/rerank against the fake upstream:
# batching, retries, base64, usage, dimension checks, errors without the
# key; the offline demo model; the fake's own OpenAI-shaped answers.
. "$(dirname "$0")/../lib.sh"
plan 39
KEY=sk-e2e-embed-secret-0042
start_fake_upstream --require-key "$KEY"
export DIFYCGI_PROVIDER_FAKE_API_KEY=$KEY
export DIFYCGI_PROVIDER_WRONG_BASE_URL=$DIFYCGI_PROVIDER_FAKE_BASE_URL
export DIFYCGI_PROVIDER_WRONG_API_KEY=sk-wrong-key-77
FAKE="http://127.0.0.1:$FAKE_PORT/v1"

# adm ARGS...: run dify-admin; stdout in BODY, stderr in ERR, status in RC
adm() {
	BODY=$("$ADMIN" "$@" 2>"$T/adm.err")
	RC=$?
	ERR=$(cat "$T/adm.err")
}
# err_has RE: dify-admin's stderr matches; sent_n MODEL N: the fake
# received N requests naming MODEL
# fake PATH JSON: POST straight to the fake upstream
fake() {
	BODY=$(curl -s -o - -w '\n%{http_code}' -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' -d "$2" "$FAKE$1")
	STATUS=${BODY##*$'\n'}
	BODY=${BODY%$'\n'*}
}
err_has() { grep -q -- "$1" "$T/adm.err"; }
sent_n() { [ "$(grep -c "\"model\":\"$1\"" "$T/fake.log")" = "$2" ]; }
no_key() { ! grep -q "$KEY" "$T/adm.err" && ! printf '%s' "$BODY" | grep -q "$KEY"; }
COS='def dot(a; b): [a, b] | transpose | map(.[0] * .[1]) | add;'

# ---- the fake upstream itself ----
fake /embeddings '{"model":"text-embedding-3-small","input":"hello world"}'
check "the fake answers OpenAI's list of one embedding of 1536 numbers" body_is '
    .object == "list" and .model == "text-embedding-3-small" and (.data | length) == 1
    and .data[0].object == "embedding" and .data[0].index == 0
    and (.data[0].embedding | length) == 1536 and .usage.prompt_tokens == .usage.total_tokens'
fake /embeddings '{"model":"m","input":[[1,2,3],[4,5]],"dimensions":8}'
check "token arrays are inputs too, their length the usage" body_is '
    (.data | length) == 2 and (.data[1].embedding | length) == 8 and .usage.total_tokens == 5'
fake /embeddings "{\"model\":\"m\",\"input\":$(jq -nc '[range(2049) | "x"]')}"
check "over 2048 inputs the fake answers 400 as OpenAI words it" \
    bash -c "[ '$STATUS' = 400 ] && printf '%s' '$BODY' | jq -e '.error.type == \"invalid_request_error\" and (.error.message | test(\"maximum number of inputs is 2048\"))' >/dev/null"
fake /embeddings '{"model":"m","input":""}'
check "an empty input is a 400" test "$STATUS" = 400
fake /rerank '{"model":"r","query":"cat sat","documents":["dog ran",{"text":"the cat sat"},"cat"],"top_n":2}'
check "the fake reranks by word overlap, best first, cut to top_n, with documents" body_is '
    .results == [{"index":1,"relevance_score":1.0,"document":{"text":"the cat sat"}},
    {"index":2,"relevance_score":0.5,"document":{"text":"cat"}}] and .usage.total_tokens > 0'

# ---- upstream_embed ----
: > "$T/fake.log"
DIFYCGI_PROVIDER_FAKE_EMBED_BATCH=2 adm model embed --provider fake --model m \
    alpha "bravo bravo" "charlie charlie charlie" delta echo
check "five texts in batches of two: exit 0, five vectors in order" \
    bash -c "[ $RC = 0 ] && printf '%s' '$BODY' | jq -e '[.data[].index] == [0,1,2,3,4] and .dimensions == 64 and .requests == 3' >/dev/null"
check "the fake received three requests: [alpha, bravo], [charlie, delta], [echo]" \
    test "$(jq -c '.input' "$T/fake.log" | tr '\n' ' ')" = '["alpha","bravo bravo"] ["charlie charlie charlie","delta"] ["echo"] '
check "usage is summed over the batches (1 + 2 + 5 + 1 + 1 tokens)" body_is '.usage.total_tokens == 10'
check "requests ask for float vectors and send no dimensions by default" \
    bash -c "jq -e -s 'all(.[]; .encoding_format == \"float\" and (has(\"dimensions\") | not))' '$T/fake.log' >/dev/null"
check "no key in the output" no_key

: > "$T/fake.log"
adm model embed --provider fake --model m $(seq -f 'text%g' 40)
check "by default 32 texts go in one request: 40 texts are two" \
    bash -c "[ $RC = 0 ] && [ \"\$(jq -c '.input | length' '$T/fake.log' | tr '\n' ' ')\" = '32 8 ' ]"

adm model embed --provider fake --model m "the cat sat on the mat" "a cat sat on a mat" "stock markets fell sharply"
check "similar texts are nearer than unrelated ones" body_is "$COS
    [.data[].embedding] as \$v | dot(\$v[0]; \$v[1]) > 0.4 and dot(\$v[0]; \$v[1]) > dot(\$v[0]; \$v[2])"
cp /dev/null "$T/float.json"
printf '%s' "$BODY" > "$T/float.json"
DIFYCGI_PROVIDER_FAKE_EMBED_ENCODING=base64 adm model embed --provider fake --model m \
    "the cat sat on the mat" "a cat sat on a mat" "stock markets fell sharply"
check "base64 was asked for" bash -c "tail -1 '$T/fake.log' | jq -e '.encoding_format == \"base64\"' >/dev/null"
check "base64 vectors decode to the float ones" bash -c "printf '%s' '$BODY' | jq -e --slurpfile f '$T/float.json' '
    [.data[].embedding, \$f[0].data[].embedding] | length == 6 and
    ([.[0:3], .[3:6]] | transpose | map(transpose | map(.[0] - .[1] | fabs) | max) | max) < 1e-6' >/dev/null"
DIFYCGI_PROVIDER_FAKE_EMBED_DIMENSIONS=16 adm model embed --provider fake --model m one two
check "EMBED_DIMENSIONS is sent as dimensions and comes back" \
    bash -c "[ $RC = 0 ] && printf '%s' '$BODY' | jq -e '.dimensions == 16 and (.data[1].embedding | length) == 16' >/dev/null && tail -1 '$T/fake.log' | jq -e '.dimensions == 16' >/dev/null"

adm model embed --provider fake --model flaky-429-2 x
check "a 429 is retried: the third request answers" \
    eval '[ $RC = 0 ] && body_is ".requests == 3" && sent_n flaky-429-2 3'
adm model embed --provider fake --model flaky-500-1 x
check "a 500 is retried too" eval '[ $RC = 0 ] && sent_n flaky-500-1 2'
adm model embed --provider fake --model err-429 x
check "a lasting 429 fails after four tries with the chat client's words" \
    eval '[ $RC = 1 ] && sent_n err-429 4 && err_has "^dify-admin: model embed: \[fake\] Rate Limit Error, HTTP 429: Rate limit reached"'
check "nothing is printed on stdout on failure" test -z "$BODY"
DIFYCGI_UPSTREAM_TOTAL_MS=600 adm model embed --provider fake --model err-503 x
check "retries stop within the upstream total time (600 ms: two tries)" \
    eval '[ $RC = 1 ] && sent_n err-503 2 && err_has "Server Unavailable Error, HTTP 503"'
S0=$(date +%s%N)
DIFYCGI_UPSTREAM_TOTAL_MS=800 adm model embed --provider fake --model hang x
S1=$(date +%s%N)
check "a provider that never answers fails at the upstream total time, not retried" \
    eval '[ $RC = 1 ] && err_has "\[fake\] Connection Error, upstream timed out after 800 ms in total" && sent_n hang 1 && [ $(( (S1 - S0) / 1000000 )) -lt 3000 ]'
adm model embed --provider fake --model quota-429 x
check "an exhausted quota is not retried and says so" \
    eval '[ $RC = 1 ] && sent_n quota-429 1 && err_has quota'
adm model embed --provider wrong --model m x
check "a wrong key is a credentials error that quotes neither key" \
    eval '[ $RC = 1 ] && err_has "\[wrong\] Incorrect model credentials provided, please check and try again. HTTP 401" && ! err_has sk-wrong-key-77 && ! err_has "$KEY"'
adm model embed --provider fake --model leak-key x
check "a provider quoting the key has it scrubbed from the message and the log" \
    eval '[ $RC = 1 ] && err_has "with API key \*\*\*, sorry"'
check "no key in what leak-key made us print" no_key
adm model embed --provider fake --model ragged x y
check "vectors of different lengths are refused" \
    eval '[ $RC = 1 ] && err_has "differ in length (8, then 9 dimensions)"'
adm model embed --provider fake --model short x y
check "an answer with too few vectors is refused" \
    eval '[ $RC = 1 ] && err_has "answered 1 embeddings for 2 texts"'
adm model embed --provider nowhere --model m x
check "an unknown provider is provider_not_initialize's text" \
    eval '[ $RC = 1 ] && err_has "^dify-admin: model embed: No valid model provider credentials found. Please go to Settings"'
adm model embed --provider fake x
check "without --model the command is a usage error (2)" test "$RC" = 2

# ---- upstream_rerank ----
: > "$T/fake.log"
adm model rerank --provider fake --model rr --query "cat sat mat" --top-n 2 \
    "dogs run" "the cat sat on the mat" "a cat"
check "rerank: best first, cut to top_n" \
    bash -c "[ $RC = 0 ] && printf '%s' '$BODY' | jq -e '[.results[] | [.index, .relevance_score]] == [[1,1],[2,(1/3)]]' >/dev/null"
check "documents are printed from our side, usage from the provider" body_is '
    .results[0].document.text == "the cat sat on the mat" and .usage.total_tokens == 10'
check "the request is Jina's: query, documents, top_n, return_documents false" \
    bash -c "jq -e '.query == \"cat sat mat\" and .documents == [\"dogs run\",\"the cat sat on the mat\",\"a cat\"] and .top_n == 2 and .return_documents == false' '$T/fake.log' >/dev/null"
adm model rerank --provider fake --model rr --query "cat" "x" "cat"
check "without --top-n every document comes back" body_is '[.results[].index] == [1,0]'
adm model rerank --provider fake --model flaky-429-1 --query q a
check "rerank retries a 429" eval '[ $RC = 0 ] && sent_n flaky-429-1 2'
adm model rerank --provider fake --model err-404 --query q a
check "rerank errors are the chat client's" \
    eval '[ $RC = 1 ] && err_has "^dify-admin: model rerank: \[fake\] Model Not Found Error, HTTP 404"'

# ---- the offline demo model ----
adm model embed --provider offline "the cat sat on the mat" "a cat sat on a mat" "stock markets fell sharply"
check "offline: 256 unit-length dimensions, no network" body_is "$COS
    .dimensions == 256 and .requests == 0 and all(.data[].embedding; (dot(.; .) - 1 | fabs) < 1e-5)"
check "offline: similar texts nearer than unrelated" body_is "$COS
    [.data[].embedding] as \$v | dot(\$v[0]; \$v[1]) > dot(\$v[0]; \$v[2])"
O1=$BODY
adm model embed --provider offline "the cat sat on the mat" "a cat sat on a mat" "stock markets fell sharply"
check "offline: the same texts give the same vectors" test "$O1" = "$BODY"
adm model rerank --provider offline --query "cat on a mat" "stock markets" "the cat sat on the mat"
check "offline rerank puts the related document first" body_is '.results[0].index == 1 and (.results | length) == 2'
finish
