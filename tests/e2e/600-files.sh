#!/bin/bash
# POST /v1/files/upload and reading files back: the 201 shape, storage on
# disk and in upload_files, each of Dify's upload errors in its order,
# per-type size limits, the multipart parser through lighttpd, signed
# source URLs, and GET /v1/files/{id}/preview with its access rules.
. "$(dirname "$0")/../lib.sh"
plan 67
export DIFYCGI_IMAGE_LIMIT_MB=1 DIFYCGI_MAX_UPLOAD_MB=3
export DIFYCGI_UPLOAD_EXTENSION_BLACKLIST="exe, .BAT"
# the local store, on either backend (605-file-store tests the database one)
export DIFYCGI_FILE_STORE=local
export DIFYCGI_SECRET_KEY="test-secret-key-of-enough-length"
start_fake_upstream
start_server
cat > "$T/fu.json" <<'JSON'
{"file_upload": {"enabled": true, "allowed_file_types": ["image", "document"],
 "allowed_file_extensions": [], "allowed_file_upload_methods": ["local_file", "remote_url"],
 "number_limits": 3}}
JSON
read -r A KA <<<"$(new_app chat --provider fake --model echo --config "$T/fu.json")"
read -r B KB <<<"$(new_app chat --provider fake --model echo --config "$T/fu.json")"

upload() { k=$1; shift; req POST /v1/files/upload "$k" "$@"; }
# mp KEY FILE [BOUNDARY]: a hand-made multipart body
mp() { req POST /v1/files/upload "$1" --data-binary "@$2" \
    -H "Content-Type: multipart/form-data; boundary=${3:-XyZ}"; }
crlf() { printf '%s\r\n' "$@"; }
tmp_empty() { [ -z "$(ls -A "$T/files/.tmp" 2>/dev/null)" ]; }

printf '\x89PNG\r\n\x1a\n' > "$T/a.png"
head -c 3000 /dev/urandom >> "$T/a.png"
upload "$KA" -F "file=@$T/a.png;type=image/png" -F user=u1
check "an upload answers 201" is_status 201
check "the body has Dify's keys and values" body_is '
    (keys | sort) == (["id","name","size","extension","mime_type","created_by",
    "created_at","preview_url","source_url","original_url","user_id","tenant_id",
    "conversation_id","file_key","reference"] | sort)
    and .name == "a.png" and .size == 3008 and .extension == "png"
    and .mime_type == "image/png" and (.id | test("^[0-9a-f-]{36}$"))
    and .preview_url == null and .original_url == null and .user_id == null
    and .conversation_id == null and .file_key == null and .reference == null
    and (.created_at | type) == "number"'
F1=$(printf '%s' "$BODY" | jq -r .id)
SRC=$(printf '%s' "$BODY" | jq -r .source_url)
U1=$(sql "SELECT id FROM end_users WHERE app_id = '$A' AND session_id = 'u1'")
check "created_by is the end user's row id" body_is ".created_by == \"$U1\""
check "source_url is a signed link under this server" body_is "
    .source_url | startswith(\"$BASE/v1/files/$F1/file-preview?timestamp=\")
    and test(\"&nonce=[0-9a-f]{32}&sign=[A-Za-z0-9_=-]{44}\$\")"
check "the row is the app's and the end user's, with size, type and SHA-256" test \
    "$(sql "SELECT app_id, end_user_id, name, size, extension, mime_type, storage_key, hash FROM upload_files WHERE id = '$F1'")" = \
    "$A|$U1|a.png|3008|png|image/png|files/$A/$F1|$(sha256sum < "$T/a.png" | cut -d' ' -f1)"
check "the bytes are stored under a name of the server's, mode 0600" bash -c "
    cmp -s '$T/a.png' '$T/files/$A/$F1' && [ \$(stat -c %a '$T/files/$A/$F1') = 600 ]"
check "no temporary file is left" tmp_empty

upload "$KA" -F "file=@$T/a.png;type=image/png"
check "without user the upload is DEFAULT-USER's" body_is ".created_by == \"$(sql "SELECT id FROM end_users WHERE app_id = '$A' AND session_id = 'DEFAULT-USER'")\""

# the signed link works without a key, and only with its signature
req GET "${SRC#$BASE}" "" 2>/dev/null
check "the signed source_url serves the bytes without a key" bash -c "
    [ '$STATUS' = 200 ] && cmp -s '$T/a.png' '$T/body' && grep -qi '^Content-Type: image/png' '$T/headers'"
# another first letter: Q, or R when it was Q (1 in 64 signatures)
req GET "$(printf '%s' "${SRC#$BASE}" | sed 's/sign=Q/sign=R/; t; s/sign=./sign=Q/')" ""
check "a changed signature is a 404" expect_error 404 not_found "File not found or signature is invalid"
now=$(date +%s)
req GET "/v1/files/$F1/file-preview?timestamp=$now&nonce=abc&sign=$(sign "$F1" "$now" abc)" "" 2>/dev/null
check "the signature is HMAC-SHA256 of file-preview|id|timestamp|nonce, base64url" is_status 200
# issue 11: a signed reply is no shared cache's to keep, nor anyone's past
# the link's expiry (its timestamp + 300 s)
max_age() { tr -d '\r' < "$T/headers" | sed -n 's/^[Cc]ache-[Cc]ontrol: private, max-age=\([0-9]*\)$/\1/p'; }
a=$(max_age); echo "# max-age=$a"
check "a signed reply is Cache-Control private, for at most the 300 s the link lives" \
    bash -c "[ -n '$a' ] && [ '$a' -le 300 ] && ! grep -qi '^Cache-Control:.*public' '$T/headers'"
late=$((now - 250))
req GET "/v1/files/$F1/file-preview?timestamp=$late&nonce=abc&sign=$(sign "$F1" "$late" abc)" "" 2>/dev/null
a=$(max_age); echo "# max-age=$a"
check "a link with 50 s left may be cached for no more than those 50 s" \
    bash -c "[ '$STATUS' = 200 ] && [ -n '$a' ] && [ '$a' -le 50 ]"
old=$((now - 301))
req GET "/v1/files/$F1/file-preview?timestamp=$old&nonce=abc&sign=$(sign "$F1" "$old" abc)" ""
check "a signature older than 300 s is refused" is_status 404
req GET "/v1/files/$F1/file-preview?timestamp=$now&nonce=abc" ""
check "a link without its signature is refused" is_status 404

# Dify's checks, in its order
upload "$KA" -F user=u1
check "no file part: 400 no_file_uploaded" expect_error 400 no_file_uploaded "Please upload your file."
JSON='{"file":"x"}' req POST /v1/files/upload "$KA"
check "a JSON body has no file either" expect_error 400 no_file_uploaded "Please upload your file."
crlf --XyZ 'Content-Disposition: form-data; name="file"' '' 'not a file' --XyZ-- > "$T/b"
mp "$KA" "$T/b"
check "a field named file without a filename is no file" expect_error 400 no_file_uploaded "Please upload your file."
upload "$KA" -F "file=@$T/a.png;type=image/png" -F "other=@$T/a.png;type=image/png"
check "file parts under two names: 400 too_many_files" expect_error 400 too_many_files "Only one file is allowed."
crlf --XyZ 'Content-Disposition: form-data; name="file"; filename="a.txt"' '' 'first' \
    --XyZ 'Content-Disposition: form-data; name="file"; filename="b.txt"' 'Content-Type: text/plain' '' 'second' \
    --XyZ-- > "$T/b"
mp "$KA" "$T/b"
check "two parts named file are one field: the first is taken (and it has no type: 415)" \
    expect_error 415 unsupported_file_type "File type not allowed."
crlf --XyZ 'Content-Disposition: form-data; name="file"; filename=""' 'Content-Type: text/plain' '' 'x' --XyZ-- > "$T/b"
mp "$KA" "$T/b"
check "an empty filename: 400 filename_not_exists_error" \
    expect_error 400 filename_not_exists_error "The specified filename does not exist."
for name in 'a:b.txt' 'a*b.txt' 'a?b.txt' 'a<b.txt' 'a>b.txt' 'a|b.txt' 'dir\\a.txt' 'x/a.txt'; do
	crlf --XyZ "Content-Disposition: form-data; name=\"file\"; filename=\"$name\"" 'Content-Type: text/plain' '' 'x' --XyZ-- > "$T/b"
	mp "$KA" "$T/b"
	check "a filename with a forbidden character ($name) is refused" \
	    expect_error 400 invalid_param "Filename contains invalid characters"
done
echo 'MZ' > "$T/setup.EXE"
upload "$KA" -F "file=@$T/setup.EXE;type=application/octet-stream"
check "a blacklisted extension is refused, lowercased" \
    expect_error 400 invalid_param "File extension '.exe' is not allowed for security reasons"
upload "$KA" -F "file=@$T/setup.EXE;filename=run.bat;type=application/octet-stream"
check "blacklist entries match with their dot and in any case" \
    expect_error 400 invalid_param "File extension '.bat' is not allowed for security reasons"
head -c $((1024 * 1024 + 1)) /dev/zero > "$T/big.png"
upload "$KA" -F "file=@$T/big.png;type=image/png"
check "an image over DIFYCGI_IMAGE_LIMIT_MB: 413 file_too_large with an empty message" \
    expect_error 413 file_too_large ""
check "nothing of it stays on disk" tmp_empty
upload "$KA" -F "file=@$T/big.png;type=image/png" -F "other=@$T/a.png;type=image/png"
check "too_many_files comes before file_too_large" expect_error 400 too_many_files "Only one file is allowed."
cp "$T/big.png" "$T/big.txt"
upload "$KA" -F "file=@$T/big.txt;type=text/plain"
check "a document of the same size is under its own 15 MB limit" is_status 201
head -c $((3 * 1024 * 1024 + 10)) /dev/zero > "$T/huge.txt"
upload "$KA" -F "file=@$T/huge.txt;type=text/plain"
check "a body over DIFYCGI_MAX_UPLOAD_MB: 413 request_entity_too_large" \
    expect_error 413 request_entity_too_large "The data value transmitted exceeds the capacity limit."
req POST /v1/files/upload "$KA" -F "file=@$T/a.png;type=image/png" -H 'Authorization: Bearer app-nope'
check "no valid key, no upload" is_status 401

# the parser, through lighttpd and FastCGI
crlf 'preamble to ignore' --XyZ 'content-disposition: form-data; name=user' '' 'u2' \
    '--XyZ  ' "Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''%E2%82%AC%20r%C3%A9sum%C3%A9.md; filename=\"fallback.md\"" \
    'CONTENT-TYPE: Text/Markdown; charset=utf-8' '' '# Title' '' 'line with --XyZ inside' \
    --XyZ-- 'epilogue' > "$T/b"
mp "$KA" "$T/b"
check "filename* wins over filename, decoded; headers in any case; padding after a boundary" body_is '
    .name == "€ résumé.md" and .extension == "md" and .mime_type == "text/markdown"'
F2=$(printf '%s' "$BODY" | jq -r .id)
printf '# Title\r\n\r\nline with --XyZ inside' > "$T/want"
check "the content is what lies between the headers and the CRLF of the next delimiter" \
    cmp -s "$T/want" "$T/files/$A/$F2"
check "a user part before the file counts" test \
    "$(sql "SELECT e.session_id FROM upload_files f JOIN end_users e ON e.id = f.end_user_id WHERE f.id = '$F2'")" = u2
crlf --XyZ 'Content-Disposition: form-data; name="file"; filename="cut.txt"' 'Content-Type: text/plain' '' 'no end' > "$T/b"
mp "$KA" "$T/b"
check "a body cut before its closing delimiter is a 400" \
    expect_error 400 bad_request "Malformed multipart body: the body ends before the closing boundary."
check "and leaves no temporary file" tmp_empty
{ printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="h.txt"\r\nX-Pad: '
  head -c 9000 /dev/zero | tr '\0' a; printf '\r\n\r\nx\r\n--XyZ--\r\n'; } > "$T/b"
mp "$KA" "$T/b"
check "part headers over 8 KiB: 413" body_is '.status == 413 and .code == "request_entity_too_large"'
long=$(printf 'n%.0s' $(seq 1 230))
crlf --XyZ "Content-Disposition: form-data; name=\"file\"; filename=\"$long.v2.txt\"" 'Content-Type: text/plain' '' 'x' --XyZ-- > "$T/b"
mp "$KA" "$T/b"
check "a name over 200 characters is cut to 200 before its first dot, extension kept" body_is "
    .name == \"$(printf 'n%.0s' $(seq 1 200)).txt\" and .extension == \"txt\""
check "the secret made for signing is not needed with DIFYCGI_SECRET_KEY" test ! -e "$T/secret_key"

# preview: only files a message of this app refers to
req GET "/v1/files/$F1/preview" "$KA"
check "a file no message refers to: 404 file_not_found" \
    expect_error 404 file_not_found "File not found in message context"
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"see\",\"user\":\"u1\",\"files\":[{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F1\"}]}"
check "a chat message takes the file" is_status 200
req GET "/v1/files/$F1/preview" "$KA" 2>/dev/null
check "then the app previews it: 200 with its bytes" bash -c "[ '$STATUS' = 200 ] && cmp -s '$T/a.png' '$T/body'"
check "Content-Type is the stored type, with Content-Length and Cache-Control private (the reply needed a key)" bash -c "
    grep -qi '^Content-Type: image/png' '$T/headers' && grep -qi '^Content-Length: 3008' '$T/headers' &&
    grep -qi '^Cache-Control: private, max-age=3600' '$T/headers' && ! grep -qi '^Content-Disposition' '$T/headers'"
req GET "/v1/files/$(printf '%s' "$F1" | tr a-f A-F)/preview?user=whoever" "$KA" 2>/dev/null
check "the id in any case, and a user that changes nothing" is_status 200
req GET "/v1/files/$F1/preview?as_attachment=true" "$KA" 2>/dev/null
check "as_attachment: octet-stream and an attachment disposition" bash -c "
    [ '$STATUS' = 200 ] && grep -qi '^Content-Type: application/octet-stream' '$T/headers' &&
    grep -qi \"^Content-Disposition: attachment; filename\\*=UTF-8''a.png\" '$T/headers'"
req GET "/v1/files/$F1/preview?as_attachment=false" "$KA" 2>/dev/null
check "as_attachment=false is inline" bash -c "! grep -qi '^Content-Disposition' '$T/headers'"
req GET "/v1/files/$F1/preview" "$KB"
check "another app's key: 403 file_access_denied" \
    expect_error 403 file_access_denied "File access denied: not owned by requesting app"
req GET "/v1/files/0f0f0f0f-0000-4000-8000-000000000000/preview" "$KA"
check "an unknown id: 404 file_not_found" expect_error 404 file_not_found "File not found in message context"
req GET "/v1/files/not-a-uuid/preview" "$KA"
check "an id that is not a UUID: the router's 404" body_is '.code == "not_found" and .status == 404'
req GET "/v1/files/$F1/preview" ""
check "preview needs a key" is_status 401

# a name that needs encoding, and a type a browser would run
crlf --XyZ 'Content-Disposition: form-data; name="file"; filename="a\"b.txt"' 'Content-Type: text/plain' '' 'x' --XyZ-- > "$T/b"
mp "$KA" "$T/b"
check "an escaped quote in a quoted filename is a quote, which Dify forbids" \
    expect_error 400 invalid_param "Filename contains invalid characters"
crlf --XyZ "Content-Disposition: form-data; name=\"file\"; filename=\"re p;o'rt é.html\"" 'Content-Type: text/html' '' '<script>alert(1)</script>' --XyZ-- > "$T/b"
mp "$KA" "$T/b"
F3=$(printf '%s' "$BODY" | jq -r .id)
check "a quoted filename may hold ; and spaces" body_is '.name == "re p;o'"'"'rt é.html"'
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"x\",\"user\":\"DEFAULT-USER\",\"files\":[{\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$F3\"}]}"
req GET "/v1/files/$F3/preview?as_attachment=1" "$KA"
check "the attachment name is RFC 5987 encoded" grep -qi \
    "^Content-Disposition: attachment; filename\\*=UTF-8''re%20p%3Bo%27rt%20%C3%A9.html" "$T/headers"
req GET "/v1/files/$F3/preview" "$KA"
check "an HTML file is served sandboxed and unsniffed" bash -c "
    grep -qi '^Content-Type: text/html' '$T/headers' && grep -qi '^Content-Security-Policy: sandbox' '$T/headers' &&
    grep -qi '^X-Content-Type-Options: nosniff' '$T/headers'"

# a large body goes through in chunks: the program's memory stays small
stop_server
export DIFYCGI_MAX_UPLOAD_MB=100
start_server
head -c $((80 * 1024 * 1024)) /dev/urandom > "$T/big.mp4"
upload "$KA" -F "file=@$T/big.mp4;type=video/mp4"
F4=$(printf '%s' "$BODY" | jq -r .id)
check "an 80 MB video is taken whole" bash -c "
    [ '$STATUS' = 201 ] && cmp -s '$T/big.mp4' '$T/files/$A/$F4'"
hwm=0
for p in $(pgrep -P "$LIGHTTPD_PID" -f cgi-bin/file.fcgi); do
	k=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status")
	[ "${k:-0}" -gt "$hwm" ] && hwm=$k
done
# sanitizer builds carry their own allocator's weight
limit=$((24 * 1024)); grep -qa __asan_report "$BUILD_DIR/libdify.a" && limit=$((64 * 1024))
check "while file.fcgi never held more than $((limit / 1024)) MB (peak: $((hwm / 1024)) MB)" \
    test "$hwm" -gt 0 -a "$hwm" -lt "$limit"
rm -f "$T/big.mp4" "$T/files/$A/$F4"

# issue 11: deleting an app removes its files, and nothing else, and says
# how much it freed
upload "$KB" -F "file=@$T/a.png;type=image/png"
FB=$(printf '%s' "$BODY" | jq -r .id)
read -r C KC <<<"$(new_app chat --provider fake --model echo --config "$T/fu.json")"
upload "$KC" -F "file=@$T/a.png;type=image/png"
upload "$KC" -F "file=@$T/want;type=text/plain;filename=w.txt"
FC=$(printf '%s' "$BODY" | jq -r .id)
echo precious > "$T/outside"
ln -s "$T/outside" "$T/files/$C/link"
want_bytes=$(( $(stat -c %s "$T/a.png") + $(stat -c %s "$T/want") ))
"$ADMIN" app delete "$C" > "$T/out" 2> "$T/err"; rc=$?
echo "# $(cat "$T/out")"
check "app delete removes the app's directory of files" \
    bash -c "[ $rc = 0 ] && [ ! -e '$T/files/$C' ] && [ ! -L '$T/files/$C' ]"
check "and says how many files and bytes it freed" \
    grep -qxF "deleted $C: 2 files, $want_bytes bytes freed" "$T/out"
check "a link among them is removed, never followed" \
    bash -c "[ \"\$(cat '$T/outside')\" = precious ]"
check "another app's files stay" bash -c "cmp -s '$T/a.png' '$T/files/$B/$FB'"
read -r D KD <<<"$(new_app chat --provider fake --model echo --config "$T/fu.json")"
mkdir -p "$T/elsewhere" "$T/files"
echo keep > "$T/elsewhere/x"
ln -s "$T/elsewhere" "$T/files/$D"
"$ADMIN" app delete "$D" > "$T/out" 2> "$T/err"; rc=$?
check "an app directory that is a symbolic link is not followed" \
    bash -c "[ -f '$T/elsewhere/x' ] && [ $rc != 0 ] && grep -q 'not a directory' '$T/err'"
finish
