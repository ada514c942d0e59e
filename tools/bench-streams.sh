#!/bin/bash
# Many concurrent streams held by one machine: STREAMS (500) streaming
# chats at once against the fake upstream's slow model, through lighttpd
# with PROCS (4) chat processes of THREADS (128) threads.  Reports how many
# completed, first-event latency percentiles, and the resident memory of
# each chat.fcgi process at the peak.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STREAMS=${STREAMS:-500} PROCS=${PROCS:-4} THREADS=${THREADS:-128}
MODEL=${MODEL:-slow-200-25}
T=$(mktemp -d /tmp/difycgi-streams.XXXXXX)
export DIFYCGI_DB="$T/dify.db" DIFYCGI_DATA_DIR="$T"
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
ulimit -n 65536 2>/dev/null || true
python3 tests/fake-upstream/fake_upstream.py --port-file "$T/fake.port" >/dev/null 2>&1 &
PIDS="$PIDS $!"
while [ ! -s "$T/fake.port" ]; do sleep 0.05; done
export DIFYCGI_PROVIDER_FAKE_BASE_URL="http://127.0.0.1:$(cat "$T/fake.port")/v1"
"$BUILD/dify-admin" init >/dev/null 2>&1
APP=$("$BUILD/dify-admin" app create --mode chat --name streams --provider fake --model "$MODEL" 2>/dev/null)
KEY=$("$BUILD/dify-admin" key create "$APP" 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PROCS_STREAM=$PROCS THREADS=$THREADS sh tools/gen-lighttpd.sh "$PORT" "$BUILD" "$T/srv" > "$T/lighttpd.conf"
lighttpd -D -f "$T/lighttpd.conf" &
PIDS="$PIDS $!"
until curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/"; do sleep 0.05; done
python3 - "http://127.0.0.1:$PORT" "$KEY" "$STREAMS" "$T" <<'PY'
import http.client, json, os, statistics, sys, threading, time, urllib.parse
base, key, n, tdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlparse(base)
first, done, errors = [], [], []
lock = threading.Lock()
peak = {}
def rss():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % pid, "rb").read()
            env = open("/proc/%s/environ" % pid, "rb").read()
            if b"chat.fcgi" not in cmd or tdir.encode() not in env:
                continue
            for line in open("/proc/%s/status" % pid):
                if line.startswith("VmRSS:"):
                    kb = int(line.split()[1])
                    peak[pid] = max(peak.get(pid, 0), kb)
        except OSError:
            pass
def one(i):
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        t0 = time.perf_counter()
        c.request("POST", "/v1/chat-messages", body=json.dumps({"inputs": {}, "query": "q",
            "user": "s%d" % i, "response_mode": "streaming", "auto_generate_name": False}),
            headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
        r = c.getresponse()
        got_first = False
        end = False
        while True:
            line = r.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                if not got_first:
                    got_first = True
                    with lock: first.append(time.perf_counter() - t0)
                if b'"message_end"' in line:
                    end = True
        with lock:
            (done if end else errors).append(time.perf_counter() - t0)
    except Exception as e:
        with lock: errors.append(str(e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
t0 = time.time()
for t in ts: t.start()
while any(t.is_alive() for t in ts):
    rss()
    time.sleep(0.2)
q = statistics.quantiles(first, n=100) if len(first) > 1 else [0] * 99
print("%d concurrent streams: %d completed, %d failed, in %.1f s" % (n, len(done), len(errors), time.time() - t0))
print("first event: p50 %.0f ms, p99 %.0f ms; whole stream p50 %.2f s" % (q[49] * 1000, q[98] * 1000, statistics.median(done) if done else 0))
print("chat.fcgi processes: %d, peak RSS %s MiB (sum %.1f MiB)" % (len(peak),
    ", ".join("%.1f" % (v / 1024) for v in sorted(peak.values())), sum(peak.values()) / 1024))
PY
