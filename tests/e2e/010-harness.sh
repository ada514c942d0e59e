#!/bin/bash
# The harness can fail: tests/run.sh, run over a tree of small scripts
# with defects on purpose, reports each one.  A leak written by a FastCGI
# program when it exits after lighttpd, a UBSan report alone, a program
# that never exits, an early exit, a missing plan, a skip, a non-zero
# exit, a hang and a curl that would wait for ever all fail, and a clean
# script passes.  It tests the runner and the harness, alike on every
# backend.
# backends: sqlite
. "$(dirname "$0")/../lib.sh"
plan 13

# a tree whose programs are the real ones but app.fcgi, which is leaky
tree=$T/tree
mkdir -p "$tree/tests/e2e" "$tree/fake/cgi-bin"
ln -s "$ROOT/tools" "$tree/tools"
ln -s "$ROOT/tests/lib.sh" "$ROOT/tests/run.sh" "$tree/tests/"
cp "$BUILD_DIR"/cgi-bin/*.fcgi "$tree/fake/cgi-bin/"
cp "$BUILD_DIR/tests/leaky.fcgi" "$tree/fake/cgi-bin/app.fcgi" || exit 1
cp "$ADMIN" "$tree/fake/dify-admin"

nested() {	# nested NAME [PRELUDE]: a script of the tree, its body on stdin
	{
		[ -n "${2:-}" ] && echo "$2"
		echo '. "$(dirname "$0")/../lib.sh"'
		cat
	} > "$tree/tests/e2e/$1.sh"
}
nested 01-leak <<'EOF'
plan 1
start_server
req GET /v1/leak ""
check "leaky answers" is_status 200
finish
EOF
nested 02-clean <<'EOF'
plan 1
start_server
req GET /v1/ ""
check "leaky answers without a defect" is_status 200
finish
EOF
nested 03-ubsan <<'EOF'
plan 1
start_server
req GET /v1/ubsan ""
check "leaky overflows" is_status 200
finish
EOF
nested 04-stubborn CLEANUP_WAIT=2 <<'EOF'
plan 1
start_server
req GET /v1/stubborn ""
check "leaky ignores SIGTERM from now on" is_status 200
finish
EOF
nested 05-early <<'EOF'
plan 3
ok "the first of three"
exit 0
EOF
nested 06-noplan <<'EOF'
ok "a check without a plan"
EOF
nested 07-skip <<'EOF'
plan 1
ok "needs something # SKIP it is missing"
EOF
nested 08-status <<'EOF'
plan 1
ok "all went well"
exit 3
EOF
mkdir -p "$T/tree2/tests/e2e"
cat > "$T/tree2/tests/e2e/09-hang.sh" <<'EOF'
. "$(dirname "$0")/../lib.sh"
plan 1
ok "then it hangs"
sleep 100
EOF
nested 10-curl CURL_MAX_TIME=2 <<'EOF'
plan 1
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(100)' > "$T/port" &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/port" || exit 1
curl -s "http://127.0.0.1:$(cat "$T/port")/"
check "curl gives up on a server that never answers (exit 28)" [ $? = 28 ]
finish
EOF

env -u FUZZ -u FUZZ_SECONDS BUILDS=fake TEST_TIMEOUT=60 \
    sh "$tree/tests/run.sh" > "$T/run.out" 2>&1
rc=$?
# the hang alone, under a short timeout (it starts no server)
ln -s "$ROOT/tools" "$T/tree2/tools"
ln -s "$ROOT/tests/lib.sh" "$ROOT/tests/run.sh" "$T/tree2/tests/"
env -u FUZZ -u FUZZ_SECONDS BUILDS=fake TEST_TIMEOUT=5 sh "$T/tree2/tests/run.sh" >> "$T/run.out" 2>&1
rc2=$?
has() { grep -qF -- "$1" "$T/run.out"; }

check "a leak reported when the program exits after lighttpd fails the script" \
    has "[fake:01-leak] not ok - harness: sanitizers report nothing"
check "... and the report names the leaking function" \
    grep -q "leak_on_purpose" "$T/run.out"
check "a UBSan report alone fails the script" \
    has "[fake:03-ubsan] not ok - harness: sanitizers report nothing"
check "a program that does not exit when stopped fails the script" \
    has "[fake:04-stubborn] not ok - harness: every program of the test exits once it is stopped"
check "an early exit fails: fewer checks than planned" \
    has "[fake:05-early] not ok - runs the 3 checks it plans (ran 1)"
check "a script without a plan fails" \
    has "[fake:06-noplan] not ok - declares its plan (no 1..N line)"
check "a skip counts as a failure" \
    has "[fake:07-skip] not ok - skips no check (1 skipped)"
check "a non-zero exit is reported with its real status" \
    has "[fake:08-status] not ok - exits 0 (exit status 3)"
check "a script that hangs is stopped at the timeout" \
    has "[fake:09-hang] not ok - finishes within 5 s"
check "curl has a deadline in every script" \
    has "[fake:10-curl] ok - curl gives up on a server that never answers (exit 28)"
check "the clean script passes, with nothing reported" bash -c "
    grep -F '[fake:02-clean]' '$T/run.out' | grep -vF '[fake:02-clean] ok - ' | grep -q . && exit 1
    grep -qF '[fake:02-clean] ok - leaky answers without a defect' '$T/run.out'"
check "the runner counts every one of them and exits non-zero" bash -c "
    [ $rc -ne 0 ] && [ $rc2 -ne 0 ] &&
    [ \"\$(grep -x '[0-9]* passed, [0-9]* failed' '$T/run.out' | tr '\\n' ' ')\" = '8 passed, 7 failed 1 passed, 1 failed ' ]"
check "no process of the nested scripts is left" bash -c "! pgrep -f '^$tree/' >/dev/null"
[ $FAILS -eq 0 ] || sed 's/^/#   /' "$T/run.out" | head -80
finish
