#!/bin/bash
# Many processes writing at once: chat, completion and conversation
# families under load together (3 processes each, 8 threads per process).
# No SQLITE_BUSY reaches a client: every request gets its normal answer.
. "$(dirname "$0")/../lib.sh"
export PROCS_STREAM=3 PROCS_OTHER=3
# one app may use every thread: this is the database under load, not the
# fair share between apps (235-fair-share), which would refuse some
export DIFYCGI_APP_SHARE_PERCENT=100 DIFYCGI_RESERVED_THREADS=0
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model gpt-test)"
read -r C KC <<<"$(new_app completion --provider fake --model gpt-test)"
python3 - "$BASE" "$KA" "$KC" > "$T/load.out" <<'PY'
import collections, http.client, json, sys, threading, time, urllib.parse
base, ka, kc = sys.argv[1:4]
u = urllib.parse.urlparse(base)
counts = collections.Counter()
bad = []
lock = threading.Lock()
def call(method, path, key, body=None):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    h = {"Authorization": "Bearer " + key}
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    with lock:
        counts[(method, path.split("?")[0].split("/")[2], r.status)] += 1
        if r.status >= 500 or (r.status >= 400 and r.status != 404):
            bad.append((method, path, r.status, data[:200]))
    return r.status, data
def worker(n):
    user = "load%d" % (n % 8)
    conv = None
    for i in range(12):
        body = {"inputs": {}, "query": "q%d" % i, "user": user}
        if conv:
            body["conversation_id"] = conv
        s, d = call("POST", "/v1/chat-messages", ka, body)
        if s == 200:
            j = json.loads(d)
            conv = j["conversation_id"]
            call("POST", "/v1/messages/%s/feedbacks" % j["id"], ka,
                 {"rating": "like", "user": user})
        call("POST", "/v1/completion-messages", kc, {"inputs": {}, "user": user})
        call("GET", "/v1/conversations?user=%s&limit=5" % user, ka)
        if conv:
            call("POST", "/v1/conversations/%s/name" % conv, ka,
                 {"name": "n%d" % i, "user": user})
            call("GET", "/v1/messages?user=%s&conversation_id=%s" % (user, conv), ka)
t0 = time.time()
ts = [threading.Thread(target=worker, args=(n,)) for n in range(24)]
for t in ts: t.start()
for t in ts: t.join()
total = sum(counts.values())
print("requests %d in %.1f s, errors %d" % (total, time.time() - t0, len(bad)))
for b in bad[:10]:
    print("bad", b)
PY
cat "$T/load.out" | sed 's/^/# /'
check "$(head -1 "$T/load.out" | cut -d, -f1) at once across three families: no 5xx, no busy errors" \
    grep -q 'errors 0$' "$T/load.out"
check "every chat message was stored and finished" \
    test "$(sql "SELECT count(*) FROM messages WHERE status != 'normal'")" = 0
check "the database passes integrity_check" test "$(sql "PRAGMA integrity_check")" = ok
check "no busy or locked error in the programs' logs" bash -c "! grep -qi 'busy\|locked' '$T/srv/fcgi.log'"
finish
