#!/bin/bash
# "files" on chat and completion requests: checked against the app's
# file_upload settings with Dify's messages, stored as message_files,
# images handed to the model as image_url parts (the fake upstream's log
# shows what it received), documents as their text; remote URLs that
# lead to loopback, private or link-local addresses refused, and fetched
# only when allowed (DIFYCGI_ALLOW_PRIVATE_URLS=1, second half).
. "$(dirname "$0")/../lib.sh"
plan 49
start_fake_upstream

# a small web server for remote files, on loopback like everything here
cat > "$T/web.py" <<'PY'
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        with open(sys.argv[2], "a") as f:
            f.write(self.path + "\n")
    def do_GET(self):
        pages = {"/doc.txt": (b"remote text body\n", "text/plain"),
                 "/page.html": (b"<html><head><title>t</title><style>p{}</style></head>"
                                b"<body><p>Hello&nbsp;<b>web</b> &amp; more</p>"
                                b"<script>evil()</script><p>two</p></body></html>", "text/html"),
                 "/big.txt": (b"x" * (2 * 1024 * 1024), "text/plain")}
        if self.path == "/moved.txt":
            self.send_response(302)
            self.send_header("Location", "/doc.txt")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path not in pages:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, ctype = pages[self.path]
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1] + ".tmp", "w").write(str(s.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.serve_forever()
PY
python3 "$T/web.py" "$T/web.port" "$T/web.log" &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/web.port" || { not_ok "the local web server starts"; exit 1; }
WEB="http://127.0.0.1:$(cat "$T/web.port")"
: > "$T/web.log"
start_server

cat > "$T/fu.json" <<'JSON'
{"file_upload": {"enabled": true, "allowed_file_types": ["image", "document"],
 "allowed_file_extensions": [".JSON"], "allowed_file_upload_methods": ["local_file", "remote_url"],
 "number_limits": 3, "image": {"detail": "low"}}}
JSON
cat > "$T/local-only.json" <<'JSON'
{"file_upload": {"enabled": true, "allowed_file_types": ["image"],
 "allowed_file_upload_methods": ["local_file"], "number_limits": 5}}
JSON
cat > "$T/legacy.json" <<'JSON'
{"file_upload": {"image": {"enabled": true, "number_limits": 2, "detail": "high",
 "transfer_methods": ["remote_url", "local_file"]}}}
JSON
read -r A KA <<<"$(new_app chat --provider fake --model echo --config "$T/fu.json")"
read -r B KB <<<"$(new_app chat --provider fake --model echo --config "$T/fu.json")"
read -r C KC <<<"$(new_app completion --provider fake --model echo --config "$T/fu.json" --pre-prompt "Describe.")"
read -r L KL <<<"$(new_app chat --provider fake --model echo --config "$T/legacy.json")"
read -r O KO <<<"$(new_app chat --provider fake --model echo --config "$T/local-only.json")"
read -r N KN <<<"$(new_app chat --provider fake --model echo)"

up() {	# KEY FILE TYPE [USER]: upload, print the id
	curl -s -H "Authorization: Bearer $1" -F "file=@$2;type=$3" -F "user=${4:-u1}" \
	    "$BASE/v1/files/upload" | jq -r .id
}
chat() {	# KEY FILES_JSON [QUERY]: a blocking chat of user u1
	jreq POST /v1/chat-messages "$1" "{\"inputs\":{},\"query\":\"${3:-what is this}\",\"user\":\"u1\",\"auto_generate_name\":false,\"files\":$2}"
}
last_upstream() { grep '"messages"' "$T/fake.log" | tail -1; }
printf '\x89PNG\r\n\x1a\n\0\0\0\rIHDRpixels' > "$T/cat.png"
PNG_B64=$(base64 -w0 < "$T/cat.png")
IMG=$(up "$KA" "$T/cat.png" image/png)

chat "$KA" "[{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$IMG\"}]"
check "a chat with an uploaded image answers 200" is_status 200
check "the upstream gets the image as a data: URL part, then the query as text" bash -c "
    last_upstream() { grep '\"messages\"' '$T/fake.log' | tail -1; }
    last_upstream | jq -e '.messages[-1] == {\"role\":\"user\",\"content\":[
      {\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,$PNG_B64\",\"detail\":\"low\"}},
      {\"type\":\"text\",\"text\":\"what is this\"}]}' >/dev/null"
CID=$(printf '%s' "$BODY" | jq -r .conversation_id)
req GET "/v1/messages?conversation_id=$CID&user=u1" "$KA"
check "the message lists its file with the keys of spec 6.1" body_is "
    .data[0].message_files | length == 1 and (.[0] | (keys | sort) == ([\"id\",\"filename\",\"type\",\"url\",
    \"mime_type\",\"size\",\"transfer_method\",\"belongs_to\",\"upload_file_id\"] | sort)
    and .filename == \"cat.png\" and .type == \"image\" and .mime_type == \"image/png\"
    and .size == $(stat -c %s "$T/cat.png") and .transfer_method == \"local_file\" and .belongs_to == \"user\"
    and .upload_file_id == \"$IMG\" and (.url | contains(\"/v1/files/$IMG/file-preview?timestamp=\")))"
STORED=$(sql "SELECT $(jx message_files '$[0].url') FROM messages WHERE conversation_id = '$CID'")
check "the file's URL is signed anew on every read (the stored one expires)" \
    bash -c "[ \"\$(printf '%s' '$BODY' | jq -r '.data[0].message_files[0].url')\" != '$STORED' ]"
URL=$(printf '%s' "$BODY" | jq -r '.data[0].message_files[0].url')
STATUS=$(curl -s -o /dev/null -w '%{http_code}' "${URL/http:\/\/*\/v1/$BASE/v1}")
check "... and the fresh URL serves the file" is_status 200

chat "$KA" '[{"type":"image","transfer_method":"remote_url","url":"https://93.184.215.14/pics/cat.jpg?size=large"}]'
check "a remote image is handed on as its URL, not fetched" bash -c "
    grep '\"messages\"' '$T/fake.log' | tail -1 | jq -e '.messages[-1].content[0] ==
      {\"type\":\"image_url\",\"image_url\":{\"url\":\"https://93.184.215.14/pics/cat.jpg?size=large\",\"detail\":\"low\"}}' >/dev/null"
M2=$(printf '%s' "$BODY" | jq -r .id)
check "its message file is named after the URL's last segment" test \
    "$(sql "SELECT message_files FROM messages WHERE id = '$M2'" | jq -r '.[0] |
    "\(.filename)|\(.url)|\(.size)|\(if has("upload_file_id") then .upload_file_id | type else "absent" end)"')" \
    "=" "cat.jpg|https://93.184.215.14/pics/cat.jpg?size=large|-1|null"

printf '# Notes\n\nThe answer is 42.\n' > "$T/notes.md"
DOC=$(up "$KA" "$T/notes.md" text/markdown)
chat "$KA" "[{\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$DOC\"}]"
check "an uploaded Markdown document reaches the model as its text" bash -c "
    grep '\"messages\"' '$T/fake.log' | tail -1 | jq -e '.messages[-1].content[0] ==
      {\"type\":\"text\",\"text\":\"Content of the file \\\"notes.md\\\":\\n\\n# Notes\\n\\nThe answer is 42.\\n\"}' >/dev/null"
printf '{"k": 1}' > "$T/data.json"
J=$(up "$KA" "$T/data.json" application/json)
chat "$KA" "[{\"transfer_method\":\"local_file\",\"upload_file_id\":\"$J\"}]"
check "a custom-type file passes when its extension is allowed (any case, with a dot)" is_status 200

jreq POST /v1/completion-messages "$KC" "{\"inputs\":{},\"user\":\"u1\",\"files\":[{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$(up "$KC" "$T/cat.png" image/png)\"}]}"
check "completion apps take files too" bash -c "
    [ '$STATUS' = 200 ] && grep '\"messages\"' '$T/fake.log' | tail -1 |
    jq -e '.messages[0].content[0].type == \"image_url\" and .messages[0].content[1] == {\"type\":\"text\",\"text\":\"Describe.\"}' >/dev/null"

chat "$KN" "[{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$IMG\"}]"
check "with file upload off, files are ignored" bash -c "
    [ '$STATUS' = 200 ] && grep '\"messages\"' '$T/fake.log' | tail -1 | jq -e '.messages[-1].content == \"what is this\"' >/dev/null"
check "and no message file is stored" test \
    "$(sql "SELECT message_files FROM messages WHERE app_id = '$N'")" = "[]"

# Dify's errors (spec 4.4)
before=$(sql "SELECT count(*) FROM messages WHERE app_id = '$A'")
err() { check "$1" expect_error 400 invalid_param "$2"; }
chat "$KA" '[{"type":"image","transfer_method":"tool_file","tool_file_id":"x"}]'
err "tool_file is not for API callers" "Invalid file transfer method: tool_file"
chat "$KA" '[{"type":"image"}]'
err "no transfer method" "Invalid file transfer method: None"
chat "$KA" '[{"type":"image","transfer_method":"local_file"}]'
err "local_file without upload_file_id" "Invalid upload file id"
chat "$KA" '[{"type":"image","transfer_method":"local_file","upload_file_id":"abc"}]'
err "an upload_file_id that is not a UUID" "Invalid upload file id format"
chat "$KA" '[{"type":"image","transfer_method":"local_file","upload_file_id":"0f0f0f0f-0000-4000-8000-000000000000"}]'
err "an unknown upload_file_id" "Invalid upload file"
chat "$KB" "[{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$IMG\"}]"
err "a file of another app is refused" "Invalid upload file"
OTHER=$(up "$KA" "$T/cat.png" image/png u2)
chat "$KA" "[{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$OTHER\"}]"
err "a file of another end user of the same app is refused" "Invalid upload file"
chat "$KA" '[{"type":"image","transfer_method":"remote_url"}]'
err "remote_url without url" "Invalid file url"
chat "$KA" '[{"type":"sticker","transfer_method":"remote_url","url":"https://93.184.215.14/a.png"}]'
err "an unknown type" "'sticker' is not a valid FileType"
chat "$KA" '[{"type":"audio","transfer_method":"remote_url","url":"https://93.184.215.14/a.mp3"}]'
err "a type the app does not allow" "File validation failed for file: a.mp3"
chat "$KA" '[{"transfer_method":"remote_url","url":"https://93.184.215.14/a.exe"}]'
err "a custom file whose extension is not allowed" "File validation failed for file: a.exe"
chat "$KO" '[{"type":"image","transfer_method":"remote_url","url":"https://93.184.215.14/a.png"}]'
err "a transfer method the app does not allow" "File validation failed for file: a.png"
many='{"type":"image","transfer_method":"remote_url","url":"https://93.184.215.14/a.png"}'
chat "$KA" "[$many,$many,$many,$many]"
err "more images than number_limits" "Number of image files exceeds the maximum limit 3"
d='{"type":"document","transfer_method":"remote_url","url":"https://93.184.215.14/a.pdf"}'
chat "$KA" "[$d,$d,$d,$many]"
err "more files than number_limits" "Number of files exceeds the maximum limit 3"
check "no refused request left a message behind" test \
    "$(sql "SELECT count(*) FROM messages WHERE app_id = '$A'")" = "$before"

# the legacy image-only settings
chat "$KL" "[$many,$many]"
check "legacy file_upload.image: images pass" is_status 200
chat "$KL" "[$many,$many,$many]"
err "legacy number_limits" "Number of image files exceeds the maximum limit 2"
chat "$KL" "[$d]"
err "legacy settings take images only" "File validation failed for file: a.pdf"

# remote URLs that lead to this machine or private networks
P=$(cat "$T/web.port")
ssrf() {	# NAME URL [TYPE]
	chat "$KA" "[{\"type\":\"${3:-document}\",\"transfer_method\":\"remote_url\",\"url\":\"$2\"}]"
	check "$1" body_is '.status == 400 and .code == "invalid_param" and
	    (.message | startswith("Invalid file url: ")) and (.message | test("loopback, private, link-local or reserved"))'
}
ssrf "a document at 127.0.0.1 is refused" "http://127.0.0.1:$P/doc.txt"
ssrf "localhost, a name for loopback, is refused" "http://localhost:$P/doc.txt"
ssrf "the cloud metadata address is refused" "http://169.254.169.254/latest/meta-data/"
ssrf "an image at a private address is refused too" "http://10.1.2.3/a.png" image
ssrf "IPv6 loopback is refused" "http://[::1]:$P/a.png" image
ssrf "IPv4-mapped IPv6 loopback is refused" "http://[::ffff:127.0.0.1]:$P/doc.txt"
ssrf "a decimal spelling of 127.0.0.1 is refused" "http://2130706433:$P/doc.txt"
ssrf "0.0.0.0 is refused" "http://0.0.0.0:$P/doc.txt"
ssrf "172.16/12 is refused" "http://172.31.255.1/doc.txt"
ssrf "CGNAT 100.64/10 is refused" "http://100.100.100.100/doc.txt"
chat "$KA" '[{"type":"document","transfer_method":"remote_url","url":"ftp://93.184.215.14/a.txt"}]'
err "other schemes than http and https are refused" "Invalid file url: only http and https URLs are fetched"
check "the local web server was never asked" test ! -s "$T/web.log"

# allowed: remote documents are fetched, with limits
stop_server
export DIFYCGI_ALLOW_PRIVATE_URLS=1 DIFYCGI_FILE_LIMIT_MB=1
start_server
chat "$KA" "[{\"type\":\"document\",\"transfer_method\":\"remote_url\",\"url\":\"$WEB/doc.txt\"}]"
check "with DIFYCGI_ALLOW_PRIVATE_URLS=1 a remote document is fetched and its text sent" bash -c "
    grep '\"messages\"' '$T/fake.log' | tail -1 | jq -e '.messages[-1].content[0].text ==
      \"Content of the file \\\"doc.txt\\\":\\n\\nremote text body\\n\"' >/dev/null"
chat "$KA" "[{\"type\":\"document\",\"transfer_method\":\"remote_url\",\"url\":\"$WEB/page.html\"}]"
check "HTML loses its tags, scripts and styles; entities are decoded" bash -c "
    grep '\"messages\"' '$T/fake.log' | tail -1 | jq -e '.messages[-1].content[0].text ==
      \"Content of the file \\\"page.html\\\":\\n\\nHello web & more\\n\\ntwo\"' >/dev/null"
chat "$KA" "[{\"type\":\"document\",\"transfer_method\":\"remote_url\",\"url\":\"$WEB/moved.txt\"}]"
check "a redirect is followed" bash -c "
    grep '\"messages\"' '$T/fake.log' | tail -1 | jq -e '.messages[-1].content[0].text | endswith(\"remote text body\\n\")' >/dev/null"
chat "$KA" "[{\"type\":\"document\",\"transfer_method\":\"remote_url\",\"url\":\"$WEB/missing.txt\"}]"
err "a remote file that is not there" "Invalid file url: the server answered HTTP 404"
chat "$KA" "[{\"type\":\"document\",\"transfer_method\":\"remote_url\",\"url\":\"$WEB/big.txt\"}]"
err "a remote file over the size limit" "Invalid file url: the file is larger than 1048576 bytes"
chat "$KA" "[{\"type\":\"document\",\"transfer_method\":\"remote_url\",\"url\":\"http://127.0.0.1:1/doc.txt\"}]"
check "a refused connection is a clear 400" body_is '.status == 400 and (.message | startswith("Invalid file url: cannot fetch it"))'
check "the web server saw the fetches it was allowed" test "$(sort "$T/web.log" | tr '\n' ' ')" = \
    "/big.txt /doc.txt /doc.txt /missing.txt /moved.txt /page.html "
finish
