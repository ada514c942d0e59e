#!/bin/bash
# Many processes writing at once: chat, completion and conversation
# families under load together (3 processes each, 8 threads per process).
# No SQLITE_BUSY reaches a client: every request gets its normal answer.
. "$(dirname "$0")/../lib.sh"
plan 4
export PROCS_STREAM=3 PROCS_OTHER=3
# one app may use every thread: this is the database under load, not the
# fair share between apps (235-fair-share), which would refuse some
export DIFYCGI_APP_SHARE_PERCENT=100 DIFYCGI_RESERVED_THREADS=0
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model gpt-test)"
read -r C KC <<<"$(new_app completion --provider fake --model gpt-test)"
python3 - "$BASE" "$KA" "$KC" > "$T/load.out" <<'PY'
import collections, http.client, json, sys, threading, time, traceback
import urllib.parse
base, ka, kc = sys.argv[1:4]
u = urllib.parse.urlparse(base)
WORKERS, ROUNDS, PER_ROUND = 24, 12, 6
counts = collections.Counter()
sent = [0]
good = [0]
bad = []
lock = threading.Lock()
def call(method, path, key, body=None):
    """One request: counted as sent, then as ok (200) or an error."""
    with lock:
        sent[0] += 1
    h = {"Authorization": "Bearer " + key}
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body)
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        status, data = r.status, r.read()
        c.close()
    except Exception as e:      # a reset, a timeout: an error like any
        status, data = "exception", repr(e).encode()
    with lock:
        counts[(method, path.split("?")[0].split("/")[2], status)] += 1
        if status == 200:
            good[0] += 1
        else:
            bad.append((method, path, status, data[:200]))
    return status, data
def worker(n):
    user = "load%d" % (n % 8)
    conv = None
    for i in range(ROUNDS):
        body = {"inputs": {}, "query": "q%d" % i, "user": user}
        if conv:
            body["conversation_id"] = conv
        s, d = call("POST", "/v1/chat-messages", ka, body)
        j = json.loads(d) if s == 200 else {}
        conv = j.get("conversation_id", conv)
        call("POST", "/v1/messages/%s/feedbacks" % j.get("id", "none"), ka,
             {"rating": "like", "user": user})
        call("POST", "/v1/completion-messages", kc, {"inputs": {}, "user": user})
        call("GET", "/v1/conversations?user=%s&limit=5" % user, ka)
        call("POST", "/v1/conversations/%s/name" % conv, ka,
             {"name": "n%d" % i, "user": user})
        call("GET", "/v1/messages?user=%s&conversation_id=%s" % (user, conv), ka)
def guarded(n):
    try:
        worker(n)
    except Exception:           # a bug in the worker is an error too
        with lock:
            bad.append(("thread", n, "exception", traceback.format_exc()[-300:]))
t0 = time.time()
ts = [threading.Thread(target=guarded, args=(n,)) for n in range(WORKERS)]
for t in ts: t.start()
for t in ts: t.join()
print("planned %d sent %d ok %d errors %d in %.1f s" % (
    WORKERS * ROUNDS * PER_ROUND, sent[0], good[0], len(bad), time.time() - t0))
for k, v in sorted(counts.items(), key=str):
    print("count", k, v)
for b in bad[:10]:
    print("bad", b)
PY
sed 's/^/# /' "$T/load.out"
read -r _ planned _ sent _ good _ errors _ <<<"$(head -1 "$T/load.out")"
check "$sent requests at once across three families, each accounted for: $good ok + $errors errors (404s, 5xx, busy, exceptions)" \
    test "$sent" = "$planned" -a "$sent" = "$((good + errors))" -a "$errors" = 0
check "every chat message was stored and finished" \
    test "$(sql "SELECT count(*), sum(CAST(status = 'normal' AS INTEGER)) FROM messages WHERE conversation_id IS NOT NULL")" = "288|288"
check "the database passes an integrity check" test "$(db_integrity)" = ok
check "no busy or locked error in the programs' logs" bash -c "[ -e '$T/srv/fcgi.log' ] && ! grep -qi 'busy\|locked' '$T/srv/fcgi.log'"
finish
