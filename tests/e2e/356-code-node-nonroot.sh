#!/bin/bash
# The code node as a real install runs it: lighttpd and the programs as the
# service user www-data (created for the test when the system has none),
# with a data directory it owns, holding the database and lighttpd's
# FastCGI sockets.  A code node that tries to change the data directory,
# the database or the sockets (modes, owners, times, extended attributes,
# watches) fails with PermissionError and nothing changes; the instance
# still answers; the scratch directory's caps (files, bytes, one file)
# hold and the scratch directory is removed; the code cannot read the
# database nor reach the server's port.  On PostgreSQL "the database" the
# code must leave alone is the server's socket.
. "$(dirname "$0")/../lib.sh"
plan 19
export DIFYCGI_CODE_TIMEOUT_MS=5000

if [ "$(id -u)" != 0 ]; then
	echo "Bail out! this test runs the programs as a service user: run it as root"
	exit 1
fi
U=www-data
if ! id -u "$U" >/dev/null 2>&1; then
	U=difycgi-test-$$
	useradd --system --no-create-home --shell /usr/sbin/nologin "$U" ||
	    { echo "Bail out! cannot create a service user"; exit 1; }
	trap '_s=$?; userdel -f "$U" 2>/dev/null; (exit $_s); cleanup' EXIT
fi
UID_U=$(id -u "$U")

# as_user COMMAND...: run as the service user, environment kept
as_user() { setpriv --reuid="$U" --regid="$U" --clear-groups -- "$@"; }

# the whole test directory is the service user's (it stays 0700)
chown "$U:" "$T"
printf '#!/bin/sh\nexec setpriv --reuid=%s --regid=%s --clear-groups -- %s "$@"\n' \
    "$U" "$U" "$ADMIN" > "$T/admin-as-user"
chmod 755 "$T/admin-as-user"
ADMIN="$T/admin-as-user"
if [ "$(db_backend)" = postgresql ]; then
	DB="$PGHOST/.s.PGSQL.$PGPORT"
else
	DB=$DIFYCGI_DB
	# the database's files must stay the service user's: read it as that user
	sql() { as_user sqlite3 "$DIFYCGI_DB" "$1"; }
fi

start_fake_upstream
# start_server, with lighttpd and so its FastCGI programs as the user
"$ADMIN" init >/dev/null || exit 1
PORT=$(free_port)
as_user sh "$ROOT/tools/gen-lighttpd.sh" "$PORT" "$BUILD_DIR" "$T/srv" > "$T/lighttpd.conf"
# not through as_user: $! must be lighttpd itself (setpriv execs it)
setpriv --reuid="$U" --regid="$U" --clear-groups -- lighttpd -D -f "$T/lighttpd.conf" &
LIGHTTPD_PID=$!
PIDS="$PIDS $LIGHTTPD_PID"
BASE="http://127.0.0.1:$PORT"
wait_http "$BASE/v1/" || exit 1

# code_app CODE: a workflow Start -> Code (python3, main(d, db)) -> End(x);
# sets KEY
code_app() {
	jq -n --arg code "$1" --arg d "$T" --arg db "$DB" '{"nodes":[
	 {"id":"start","data":{"type":"start","title":"Start","variables":[]}},
	 {"id":"code","data":{"type":"code","title":"Code","code_language":"python3",
	  "code":$code,"variables":[],"outputs":{"x":{"type":"string","children":null}}}},
	 {"id":"end","data":{"type":"end","title":"End","outputs":[
	  {"variable":"x","value_selector":["code","x"]}]}}],
	 "edges":[{"source":"start","target":"code"},{"source":"code","target":"end"}]}
	 | .nodes[1].data.code |= "D = \($d | tojson)\nDB = \($db | tojson)\n" + .' > "$T/g.json"
	read -r _app KEY <<<"$(new_app workflow --provider fake --model echo --graph "$T/g.json")"
}
run() { jreq POST /v1/workflows/run "$KEY" '{"inputs":{},"user":"u1"}'; }
failed_with() {	# failed_with TEXT: the run failed, its error contains TEXT
	printf '%s' "$BODY" | jq -e --arg t "$1" '.data.status == "failed"
	    and (.data.error | contains($t))' >/dev/null
}

snapshot() {	# what the code must not change: modes, owners, attributes,
	# the sockets; the test itself writes the database and the directory
	python3 - "$T" "$DB" "$T/srv" "$T/srv/sock" <<'PY'
import os, sys, time
for p in sys.argv[1:]:
    st = os.stat(p)
    print(p, oct(st.st_mode), st.st_uid, st.st_gid,
          st.st_mtime > time.time() - 3600, sorted(os.listxattr(p)))
print(sorted(os.listdir(sys.argv[4])), os.stat(sys.argv[4]).st_ctime_ns)
PY
}
snapshot > "$T/before"

code_app $'def main():\n    import os\n    return {"x": "%d %s" % (os.getuid(), os.getcwd())}'
run
check "the code runs as the service user ($U, uid $UID_U) in a scratch directory" body_is "
    .data.status == \"succeeded\" and (.data.outputs.x | startswith(\"$UID_U /tmp/difycgi-code-\"))"

# ---- attacks on the data directory, the database and the sockets ----
n=0
while IFS='|' read -r what code; do
	n=$((n + 1))
	code_app "$(printf 'import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\ndef ck(r):\n    if r == -1:\n        e = ctypes.get_errno()\n        raise OSError(e, os.strerror(e))\ndef main():\n    %s\n    return {"x": "done"}' "$code")"
	run
	check "$what fails the node with PermissionError" failed_with "PermissionError: [Errno 1] Operation not permitted"
done <<'EOF'
os.chmod(DATA_DIR, 0)|os.chmod(D, 0)
os.chmod(DB, 0)|os.chmod(DB, 0)
os.chmod(SOCKETS, 0)|os.chmod(D + "/srv/sock", 0)
os.chown(DB, uid, gid)|os.chown(DB, os.getuid(), os.getgid())
os.utime(DATA_DIR), os.utime(DB)|os.utime(DB, (0, 0)) if os.utime(D, (0, 0)) is None else None
os.setxattr(DB), os.removexattr(DATA_DIR)|os.setxattr(DB, "user.x", b"1") if os.removexattr(D, "user.x") is None else None
inotify_init1, inotify_add_watch(DATA_DIR)|ck(libc.inotify_add_watch(ck(libc.inotify_init1(0)), D.encode(), 0xfff))
EOF
snapshot > "$T/after"
check "the data directory, the database and the sockets keep their mode, owner, times and attributes" \
    cmp -s "$T/before" "$T/after"
code_app $'def main():\n    return {"x": "still here"}'
run
check "the instance still answers: a new app's run succeeds" body_is '
    .data.status == "succeeded" and .data.outputs.x == "still here"'
check "the database is intact (an integrity check)" test "$(db_integrity)" = ok

# ---- the scratch directory's caps ----
gone_scratch() {	# the error's first line is the scratch directory: gone
	_s=$(printf '%s' "$BODY" | jq -r '.data.error' | head -1)
	case $_s in /tmp/difycgi-code-*) [ ! -e "$_s" ] ;; *) false ;; esac
}
while IFS='|' read -r what want code; do
	code_app "$(printf 'import os, sys\ndef main():\n    print(os.getcwd(), file=sys.stderr)\n    %s\n    return {"x": "written"}' "$code")"
	run
	check "scratch: $what fails the node ($want)" failed_with "$want"
	check "... and that scratch directory is removed" gone_scratch
done <<'EOF'
5000 small files|[Errno 28] No space left on device|[open("f%d" % i, "w").write("x") for i in range(5000)]
one 64 MB file|[Errno 27] File too large|open("big", "wb").write(b"x" * (64 << 20))
64 files of 1 MB|[Errno 28] No space left on device|[open("m%d" % i, "wb").write(b"x" * (1 << 20)) for i in range(64)]
EOF

# ---- what the code cannot reach ----
if [ "$(db_backend)" = postgresql ]; then
	code_app $'import socket\ndef main():\n    socket.socket(socket.AF_UNIX).connect(DB)\n    return {"x": "connected"}'
	run
	check "the code cannot connect to the database's socket" failed_with "PermissionError"
else
	code_app $'def main():\n    return {"x": open(DB, "rb").read(15).decode()}'
	run
	check "the code cannot read the database (hidden: no such file)" failed_with "FileNotFoundError: [Errno 2]"
fi
code_app "$(printf 'import socket\ndef main():\n    socket.create_connection(("127.0.0.1", %s), 1)\n    return {"x": "connected"}' "$PORT")"
run
check "the code cannot reach the server's port" failed_with "PermissionError"
finish
