#!/bin/bash
# DIFYCGI_FILE_STORE=database: uploaded files and the files workflows make
# keep their bytes in the database, as 1 MiB chunks, so that every node
# sharing it reads them.  Uploads, previews and signed downloads byte for
# byte (every byte value; several chunks), a chat and a workflow reading
# them, nothing under the data directory but the temporary file on the
# way, an upload that fails half-way leaving nothing, files stored
# locally before a switch still served, app delete counting both stores,
# and an 80 MB upload through a program whose memory stays small.
. "$(dirname "$0")/../lib.sh"
plan 30
export DIFYCGI_FILE_STORE=database DIFYCGI_ALLOW_PRIVATE_URLS=1
export DIFYCGI_SECRET_KEY="test-secret-key-of-enough-length"
start_fake_upstream

# a test server: /sink keeps a request's body, /made.png is a binary
# response of a few chunks that the http-request node keeps as a file
cat > "$T/srv.py" <<'EOF'
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
d = os.path.dirname(sys.argv[1])
made = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (3 * 4096) + b"tail!!!"
open(d + "/made.png", "wb").write(made)
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, body, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        open(d + "/sink.bin", "wb").write(self.rfile.read(n))
        self.reply(b"kept", "text/plain")
    def do_GET(self):
        self.reply(made, "image/png")
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
open(sys.argv[1] + ".tmp", "w").write("%d\n" % srv.server_address[1])
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever(poll_interval=0.1)
EOF
serve_py "$T/srv.py" || { not_ok "the test server starts"; exit 1; }
start_server

cat > "$T/fu.json" <<'JSON'
{"file_upload": {"enabled": true, "allowed_file_types": ["image", "document", "video"],
 "allowed_file_extensions": [], "allowed_file_upload_methods": ["local_file"],
 "number_limits": 3}}
JSON
read -r A KA <<<"$(new_app chat --provider fake --model echo --config "$T/fu.json")"
read -r B KB <<<"$(new_app chat --provider fake --model echo --config "$T/fu.json")"

upload() { k=$1; shift; req POST /v1/files/upload "$k" "$@"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
chunks() { sql "SELECT count(*) || '|' || coalesce(sum(length(data)), 0) FROM file_chunks WHERE file_id = '$1'"; }
key_of() { sql "SELECT storage_key FROM upload_files WHERE id = '$1'"; }
no_files_on_disk() { [ -z "$(find "$T/files" -type f 2>/dev/null)" ]; }
# get URL OUT: a GET of a signed link (or any URL of ours) into OUT
# (a link made before a restart names the server's old port)
get() { STATUS=$(curl -s -o "$2" -D "$T/headers" -w '%{http_code}' "$BASE$(printf '%s' "$1" | sed 's|^http://[^/]*||')"); }
peak_kb() {	# the largest VmHWM of file.fcgi's processes
	_h=0
	for _p in $(pgrep -P "$LIGHTTPD_PID" -f cgi-bin/file.fcgi); do
		_k=$(awk '/^VmHWM/ {print $2}' "/proc/$_p/status")
		[ "${_k:-0}" -gt "$_h" ] && _h=$_k
	done
	echo "$_h"
}

# every byte value, behind a PNG signature so a chat sends it as an image
python3 -c 'import sys; sys.stdout.buffer.write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3)' > "$T/all.png"
upload "$KA" -F "file=@$T/all.png;type=image/png" -F user=u1
IMG=$(printf '%s' "$BODY" | jq -r .id)
IMG_SRC=$(printf '%s' "$BODY" | jq -r .source_url)
check "an upload answers 201 with its size" body_is ".size == $(stat -c %s "$T/all.png")"
check "its storage key is db: and its id" test "$(key_of "$IMG")" = "db:$IMG"
check "its bytes are one chunk of the database" test "$(chunks "$IMG")" = "1|$(stat -c %s "$T/all.png")"
check "nothing of it lies under the data directory, not even the temporary file" no_files_on_disk
get "$IMG_SRC" "$T/got"
check "the signed link serves every byte value as uploaded" bash -c "
    [ '$STATUS' = 200 ] && cmp -s '$T/all.png' '$T/got' &&
    grep -qi '^Content-Length: $(stat -c %s "$T/all.png")' '$T/headers' && grep -qi '^Content-Type: image/png' '$T/headers'"

# several MiB of text: six chunks, the last one short
python3 -c 'import sys
t = "".join("line %d of the document\n" % i for i in range(250000))
sys.stdout.write(t[:5 * 1024 * 1024 + 12345])' > "$T/big.txt"
t0=$(ms)
upload "$KA" -F "file=@$T/big.txt;type=text/plain" -F user=u1
t1=$(ms)
DOC=$(printf '%s' "$BODY" | jq -r .id)
DOC_SRC=$(printf '%s' "$BODY" | jq -r .source_url)
lens=$(sql "SELECT length(data) FROM file_chunks WHERE file_id = '$DOC' ORDER BY seq" | tr '\n' ' ')
check "a 5 MiB document is six chunks of the database, 1 MiB each but the last" bash -c "
    [ '$STATUS' = 201 ] && [ '$(chunks "$DOC")' = '6|$(stat -c %s "$T/big.txt")' ] &&
    [ '$lens' = '1048576 1048576 1048576 1048576 1048576 12345 ' ]"
t2=$(ms)
get "$DOC_SRC&as_attachment=true" "$T/got"
t3=$(ms)
echo "# 5 MiB: upload $((t1 - t0)) ms, download $((t3 - t2)) ms"
check "and comes back whole, as an attachment" bash -c "
    [ '$STATUS' = 200 ] && cmp -s '$T/big.txt' '$T/got' &&
    grep -qi \"^Content-Disposition: attachment; filename\\*=UTF-8''big.txt\" '$T/headers'"

# a chat reads both: the image as a data: URL, the document's text
jreq POST /v1/chat-messages "$KA" "{\"inputs\":{},\"query\":\"look\",\"user\":\"u1\",\"auto_generate_name\":false,\"files\":[
    {\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$IMG\"},
    {\"type\":\"document\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$DOC\"}]}"
check "a chat message takes the files" is_status 200
up=$(grep '"messages"' "$T/fake.log" 2>/dev/null | tail -1)
upstream_is() { [ -n "$up" ] && printf '%s' "$up" | jq -e "$1" >/dev/null; }
check "the model got the image's bytes as a data: URL" upstream_is "
    .messages[-1].content[0].image_url.url == \"data:image/png;base64,$(base64 -w0 < "$T/all.png")\""
check "and the document's text, from its first chunk" upstream_is '
    .messages[-1].content[1].text | startswith("Content of the file \"big.txt\":\n\nline 0 of the document\nline 1 of")'
req GET "/v1/files/$IMG/preview" "$KA" 2>/dev/null
check "the app previews the image: its bytes" bash -c "[ '$STATUS' = 200 ] && cmp -s '$T/all.png' '$T/body'"
req GET "/v1/files/$IMG/preview" "$KB"
check "another app's key still may not" \
    expect_error 403 file_access_denied "File access denied: not owned by requesting app"

# a workflow: an uploaded file sent as a binary body, a response kept as a file
jq -n --arg url "$TS" '{nodes:[
 {id:"start",data:{type:"start",title:"Start",variables:[]}},
 {id:"pick",data:{type:"list-operator",title:"Pick",variable:["sys","files"],
  filter_by:{enabled:false,conditions:[]},order_by:{enabled:false},limit:{enabled:true,size:1}}},
 {id:"send",data:{type:"http-request",title:"Send",method:"post",url:($url + "/sink"),
  body:{type:"binary",data:[{type:"file",file:["pick","first_record"]}]}}},
 {id:"fetch",data:{type:"http-request",title:"Fetch",method:"get",url:($url + "/made.png")}},
 {id:"end",data:{type:"end",title:"End",outputs:[{variable:"sent",value_selector:["send","body"]},
  {variable:"files",value_selector:["fetch","files"]}]}}],
 edges:[{source:"start",target:"pick",sourceHandle:"source"},{source:"pick",target:"send",sourceHandle:"source"},
  {source:"send",target:"fetch",sourceHandle:"source"},{source:"fetch",target:"end",sourceHandle:"source"}]}' > "$T/wf.json"
read -r W KW <<<"$(new_app workflow --provider fake --model echo --graph "$T/wf.json" --config "$T/fu.json")"
upload "$KW" -F "file=@$T/all.png;type=image/png" -F user=u1
WIN=$(printf '%s' "$BODY" | jq -r .id)
jreq POST /v1/workflows/run "$KW" "{\"inputs\":{},\"user\":\"u1\",\"files\":[{\"type\":\"image\",\"transfer_method\":\"local_file\",\"upload_file_id\":\"$WIN\"}]}"
check "a workflow run with the file succeeds" body_is '.data.status == "succeeded" and .data.outputs.sent == "kept"'
check "its http-request node sent the file's bytes from the database" cmp -s "$T/all.png" "$T/sink.bin"
MADE=$(printf '%s' "$BODY" | jq -r '.data.outputs.files[0].related_id')
check "the response it kept as a file is in the database too, in chunks" \
    test "$(key_of "$MADE")|$(chunks "$MADE")" = "db:$MADE|4|$(stat -c %s "$T/made.png")"
now=$(date +%s)
get "/v1/files/$MADE/file-preview?timestamp=$now&nonce=n1&sign=$(sign "$MADE" "$now" n1)" "$T/got"
check "and reads back as the server sent it" bash -c "[ '$STATUS' = 200 ] && cmp -s '$T/made.png' '$T/got'"
check "still nothing under the data directory" no_files_on_disk

# an upload whose chunks fail half-way leaves neither row nor chunks
rows=$(sql "SELECT count(*) FROM upload_files")
all=$(sql "SELECT count(*) FROM file_chunks")
if [ -n "${DIFYCGI_DATABASE_URL:-}" ]; then
	sql "CREATE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS \$\$
	    BEGIN IF NEW.seq = 2 THEN RAISE EXCEPTION 'third chunk refused'; END IF; RETURN NEW; END \$\$;
	    CREATE TRIGGER t_fail BEFORE INSERT ON file_chunks FOR EACH ROW EXECUTE FUNCTION t_fail()"
else
	sql "CREATE TRIGGER t_fail BEFORE INSERT ON file_chunks WHEN NEW.seq = 2
	    BEGIN SELECT RAISE(ABORT, 'third chunk refused'); END"
fi
upload "$KA" -F "file=@$T/big.txt;type=text/plain" -F user=u1
check "an upload the database refuses half-way is a 500" is_status 500
check "and leaves no row, no chunk and no temporary file" bash -c "
    [ '$(sql "SELECT count(*) FROM upload_files")' = '$rows' ] &&
    [ '$(sql "SELECT count(*) FROM file_chunks")' = '$all' ] && [ -z \"\$(find '$T/files' -type f)\" ]"
if [ -n "${DIFYCGI_DATABASE_URL:-}" ]; then
	sql "DROP TRIGGER t_fail ON file_chunks; DROP FUNCTION t_fail()"
else
	sql "DROP TRIGGER t_fail"
fi

# a file stored locally before the switch is still served, from its key
stop_server
export DIFYCGI_FILE_STORE=local
start_server
printf 'kept on this disk\n' > "$T/local.txt"
upload "$KA" -F "file=@$T/local.txt;type=text/plain" -F user=u1
LOC=$(printf '%s' "$BODY" | jq -r .id)
LOC_SRC=$(printf '%s' "$BODY" | jq -r .source_url)
check "with DIFYCGI_FILE_STORE=local an upload goes to the data directory" bash -c "
    [ '$(key_of "$LOC")' = 'files/$A/$LOC' ] && cmp -s '$T/local.txt' '$T/files/$A/$LOC' &&
    [ '$(chunks "$LOC")' = '0|0' ]"
stop_server
export DIFYCGI_FILE_STORE=database
start_server
get "$LOC_SRC" "$T/got"
check "back on the database store, that file is served from the disk" \
    bash -c "[ '$STATUS' = 200 ] && cmp -s '$T/local.txt' '$T/got'"
get "$DOC_SRC" "$T/got"
check "and the database's files as before" bash -c "[ '$STATUS' = 200 ] && cmp -s '$T/big.txt' '$T/got'"

# app delete: both stores' files, counted, and no other app's
upload "$KB" -F "file=@$T/all.png;type=image/png" -F user=u1
FB=$(printf '%s' "$BODY" | jq -r .id)
want_files=3	# the image, the document and the local file
want_bytes=$(( $(stat -c %s "$T/all.png") + $(stat -c %s "$T/big.txt") + $(stat -c %s "$T/local.txt") ))
"$ADMIN" app delete "$A" > "$T/out" 2> "$T/err"; rc=$?
echo "# $(cat "$T/out")"
check "app delete says how many files and bytes it freed, from both stores" \
    bash -c "[ $rc = 0 ] && grep -qxF 'deleted $A: $want_files files, $want_bytes bytes freed' '$T/out'"
check "the app's chunks are gone with its rows, and its directory" bash -c "
    [ '$(chunks "$IMG")|$(chunks "$DOC")' = '0|0|0|0' ] &&
    [ '$(sql "SELECT count(*) FROM upload_files WHERE app_id = '$A'")' = 0 ] && [ ! -e '$T/files/$A' ]"
check "another app's file stays" test "$(chunks "$FB")" = "1|$(stat -c %s "$T/all.png")"

# 80 MB through file.fcgi: one chunk in memory at a time, both ways.
# ASan keeps what is freed in a quarantine (256 MB), which would be what
# we measure: a small one lets its builds measure the program
stop_server
export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=16"
start_server
head -c $((80 * 1024 * 1024)) /dev/urandom > "$T/big.mp4"
t0=$(ms)
upload "$KB" -F "file=@$T/big.mp4;type=video/mp4" -F user=u1
t1=$(ms)
BIG=$(printf '%s' "$BODY" | jq -r .id)
BIG_SRC=$(printf '%s' "$BODY" | jq -r .source_url)
check "an 80 MB video is taken, as 80 chunks" \
    bash -c "[ '$STATUS' = 201 ] && [ '$(chunks "$BIG")' = '80|$((80 * 1024 * 1024))' ]"
# sanitizer builds carry their own allocator's weight
limit=$((40 * 1024)); grep -qa __asan_report "$BUILD_DIR/libdify.a" && limit=$((64 * 1024))
hwm=$(peak_kb)
check "while file.fcgi never held more than $((limit / 1024)) MB (peak: $((hwm / 1024)) MB)" \
    test "$hwm" -gt 0 -a "$hwm" -lt "$limit"
t2=$(ms)
get "$BIG_SRC" "$T/got"
t3=$(ms)
check "the 80 MB come back byte for byte" bash -c "[ '$STATUS' = 200 ] && cmp -s '$T/big.mp4' '$T/got'"
hwm2=$(peak_kb)
echo "# 80 MB: upload $((t1 - t0)) ms, download $((t3 - t2)) ms; peak RSS $((hwm / 1024)) MB after the upload, $((hwm2 / 1024)) MB after the download"
check "and sending them held no more (peak: $((hwm2 / 1024)) MB)" \
    test "$hwm2" -gt 0 -a "$hwm2" -lt "$limit"
rm -f "$T/big.mp4" "$T/got"
check "nothing of it lies under the data directory" no_files_on_disk
finish
