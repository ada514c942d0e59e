#!/bin/bash
# `make bench`: one lighttpd on loopback serves the API families, a
# hello-world FastCGI program (tests/bench/hello.c) and a static file; wrk
# measures each read endpoint and the two floors in the same run (median
# of RUNS runs of DURATION each), and the time to first byte a streaming
# chat adds over calling the fake upstream directly.
#   RUNS (3)  DURATION (5s)  CONNS (32)  PROCS (2)  THREADS (8)
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
RUNS=${RUNS:-3} DURATION=${DURATION:-5s} CONNS=${CONNS:-32}
PROCS=${PROCS:-2} THREADS=${THREADS:-8}
T=$(mktemp -d /tmp/difycgi-bench.XXXXXX)
export DIFYCGI_DB="$T/dify.db" DIFYCGI_DATA_DIR="$T"
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
ADMIN="$BUILD/dify-admin"

python3 tests/fake-upstream/fake_upstream.py --port-file "$T/fake.port" >/dev/null 2>&1 &
PIDS="$PIDS $!"
while [ ! -s "$T/fake.port" ]; do sleep 0.05; done
FAKE="http://127.0.0.1:$(cat "$T/fake.port")/v1"
export DIFYCGI_PROVIDER_FAKE_BASE_URL="$FAKE"

"$ADMIN" init >/dev/null 2>&1
APP=$("$ADMIN" app create --mode chat --name bench --provider fake --model gpt-test \
    --input text-input:city:City --opening-statement hi 2>/dev/null)
KEY=$("$ADMIN" key create "$APP" 2>/dev/null)
SLOW=$("$ADMIN" key create "$("$ADMIN" app create --mode chat --name slow --provider fake \
    --model slow-2-200 2>/dev/null)" 2>/dev/null)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"

PROCS_STREAM=$PROCS PROCS_OTHER=$PROCS THREADS=$THREADS \
    sh tools/gen-lighttpd.sh "$PORT" "$BUILD" "$T/srv" > "$T/lighttpd.conf"
echo '{"hello":"static"}' > "$T/srv/www/static.json"
cat >> "$T/lighttpd.conf" <<CONF
\$HTTP["url"] =~ "^/hello" {
  fastcgi.server = ( "/" => (( "socket" => "$T/srv/sock/hello.sock", "bin-path" => "$ROOT/$BUILD/bench/hello.fcgi", "max-procs" => $PROCS, "check-local" => "disable", "bin-environment" => ( "DIFYCGI_THREADS" => "$THREADS" ) )) )
}
\$HTTP["url"] =~ "^/static" {
  fastcgi.server = ()
}
CONF
lighttpd -D -f "$T/lighttpd.conf" &
PIDS="$PIDS $!"
until curl -s -o /dev/null "$BASE/v1/"; do sleep 0.05; done

# some data for the list endpoints: 20 conversations, 20 messages in one
for i in $(seq 20); do
	CONV=$(curl -s "$BASE/v1/chat-messages" -H "Authorization: Bearer $KEY" \
	    -H 'Content-Type: application/json' \
	    -d "{\"inputs\":{},\"query\":\"hi $i\",\"user\":\"bench\",\"auto_generate_name\":false${CONV:+,\"conversation_id\":\"$CONV\"}}" | jq -r .conversation_id)
	[ $i -lt 10 ] && CONV=""
done
CONV=$(curl -s "$BASE/v1/conversations?user=bench&limit=1" -H "Authorization: Bearer $KEY" | jq -r '.data[0].id')

printf 'wrk -t2 -c%s -d%s, median of %s runs; %s processes x %s threads per family\n\n' \
    "$CONNS" "$DURATION" "$RUNS" "$PROCS" "$THREADS"
printf '%-34s %10s %9s %9s %7s\n' "target" "req/s" "p50 ms" "p99 ms" "ratio"
HELLO=0
measure() {	# measure NAME PATH [auth]
	name=$1 path=$2
	out=""
	for r in $(seq "$RUNS"); do
		if [ "${3:-}" = auth ]; then
			line=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency \
			    -H "Authorization: Bearer $KEY" "$BASE$path" | awk '
			    /Requests\/sec/ { rps = $2 } / 50%/ { p50 = $2 } / 99%/ { p99 = $2 }
			    END { print rps, p50, p99 }')
		else
			line=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$BASE$path" | awk '
			    /Requests\/sec/ { rps = $2 } / 50%/ { p50 = $2 } / 99%/ { p99 = $2 }
			    END { print rps, p50, p99 }')
		fi
		out="$out$line
"
	done
	# the run with the median req/s
	med=$(printf '%s' "$out" | sort -n -k1 | sed -n "$(( (RUNS + 1) / 2 ))p")
	rps=$(echo "$med" | cut -d' ' -f1)
	ms() { case $1 in *us) echo "${1%us}" | awk '{ printf "%.2f", $1 / 1000 }' ;;
	    *ms) echo "${1%ms}" ;; *s) echo "${1%s}" | awk '{ printf "%.0f", $1 * 1000 }' ;; esac; }
	p50=$(ms "$(echo "$med" | cut -d' ' -f2)") p99=$(ms "$(echo "$med" | cut -d' ' -f3)")
	[ "$name" = "hello-world FastCGI (floor)" ] && HELLO=$rps
	ratio=$(awk -v a="$rps" -v b="$HELLO" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
	printf '%-34s %10s %9s %9s %7s\n' "$name" "$rps" "$p50" "$p99" "$ratio"
}
measure "hello-world FastCGI (floor)" /hello
measure "static file" /static.json
measure "GET /v1/info" /v1/info auth
measure "GET /v1/parameters" /v1/parameters auth
measure "GET /v1/conversations" "/v1/conversations?user=bench" auth
measure "GET /v1/messages" "/v1/messages?user=bench&conversation_id=$CONV" auth

# time to first byte of a streaming chat, through us and straight to the
# fake upstream, as medians of 20 requests each
python3 - "$BASE" "$KEY" "$FAKE" "$SLOW" <<'PY'
import http.client, json, statistics, sys, time, urllib.parse
base, key, fake, slow = sys.argv[1:5]
def first_event(url, headers, body):
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    t0 = time.perf_counter()
    c.request("POST", u.path, body=json.dumps(body), headers=headers)
    r = c.getresponse()
    first = None
    n = 0
    while True:
        line = r.readline()
        if not line:
            break
        if line.startswith(b"data: "):
            n += 1
            if first is None:
                first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    c.close()
    return first, total, n
ours, theirs, ours_tot, theirs_tot = [], [], [], []
for i in range(50):
    f, t, n = first_event(base + "/v1/chat-messages",
        {"Authorization": "Bearer " + key, "Content-Type": "application/json"},
        {"inputs": {}, "query": "hi", "user": "ttfb", "response_mode": "streaming",
         "auto_generate_name": False})
    ours.append(f); ours_tot.append(t)
    f, t, n2 = first_event(fake + "/chat/completions", {"Content-Type": "application/json"},
        {"model": "gpt-test", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    theirs.append(f); theirs_tot.append(t)
mo, mt = statistics.median(ours), statistics.median(theirs)
print()
print("streaming chat, median of 50: first event %.2f ms through difycgi, %.2f ms from the"
      " fake upstream directly: %.2f ms added" % (mo * 1000, mt * 1000, (mo - mt) * 1000))
# per-token cost: 200 deltas 2 ms apart, whole streams through us and direct
us, direct = [], []
for i in range(10):
    f, t, n = first_event(base + "/v1/chat-messages",
        {"Authorization": "Bearer " + slow, "Content-Type": "application/json"},
        {"inputs": {}, "query": "hi", "user": "tok", "response_mode": "streaming",
         "auto_generate_name": False})
    us.append(t)
    f, t, n2 = first_event(fake + "/chat/completions", {"Content-Type": "application/json"},
        {"model": "slow-2-200", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    direct.append(t)
mu, md = statistics.median(us), statistics.median(direct)
print("200-token stream, median of 10: %.1f ms through difycgi, %.1f ms direct: %.3f ms"
      " per token added" % (mu * 1000, md * 1000, (mu - md) * 1000 / 200))
PY
