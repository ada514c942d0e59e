#!/bin/bash
# `make bench`: the read endpoints on each storage backend of BACKENDS,
# side by side, against a hello-world FastCGI floor measured in the same
# run.  One fake upstream; per backend one lighttpd on loopback with the
# programs, its own data dir and its own database (an SQLite file, or a
# database in a throwaway PostgreSQL cluster: tools/bench-backends.sh),
# filled with the same data through the API (20 conversations, 20
# messages in one) and warmed for a second per endpoint.  The first
# backend's lighttpd also serves the floors, measured once: a hello-world
# FastCGI program (tests/bench/hello.c) and a static file.  wrk measures
# each endpoint, median of RUNS runs of DURATION, the backends' runs taking
# turns so that load from elsewhere falls on both alike; a row gives per
# backend req/s, p99 (of the median run) and the ratio to the floor, and
# PostgreSQL's req/s over SQLite's.  Then per backend: the first event of
# a streaming chat (median of 50) and a 200-token stream (median of 10),
# less the fake upstream called directly, in turn with them.
#   BACKENDS ("sqlite postgresql")  RUNS (3)  DURATION (5s)  CONNS (32)
#   PROCS (2)  THREADS (8)
set -eu
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
RUNS=${RUNS:-3} DURATION=${DURATION:-5s} CONNS=${CONNS:-32}
PROCS=${PROCS:-2} THREADS=${THREADS:-8}
. tools/bench-backends.sh
ADMIN="$BUILD/dify-admin"

python3 tests/fake-upstream/fake_upstream.py --port-file "$T/fake.port" >/dev/null 2>&1 &
PIDS="$PIDS $!"
while [ ! -s "$T/fake.port" ]; do sleep 0.05; done
FAKE="http://127.0.0.1:$(cat "$T/fake.port")/v1"
export DIFYCGI_PROVIDER_FAKE_BASE_URL="$FAKE"

declare -A BASE KEY SLOW CONV
FIRST=${BACKENDS%% *}
# up BACKEND: its database, apps and keys, its lighttpd, its data
up() {
	local b=$1 app port i conv=""
	mkdir -p "$T/$b"
	benv "$b" "$ADMIN" init >/dev/null 2>&1
	app=$(benv "$b" "$ADMIN" app create --mode chat --name bench --provider fake \
	    --model gpt-test --input text-input:city:City --opening-statement hi 2>/dev/null)
	KEY[$b]=$(benv "$b" "$ADMIN" key create "$app" 2>/dev/null)
	app=$(benv "$b" "$ADMIN" app create --mode chat --name slow --provider fake \
	    --model slow-2-200 2>/dev/null)
	SLOW[$b]=$(benv "$b" "$ADMIN" key create "$app" 2>/dev/null)
	port=$(free_port)
	BASE[$b]="http://127.0.0.1:$port"
	PROCS_STREAM=$PROCS PROCS_OTHER=$PROCS THREADS=$THREADS \
	    benv "$b" sh tools/gen-lighttpd.sh "$port" "$BUILD" "$T/$b/srv" > "$T/$b/lighttpd.conf"
	if [ "$b" = "$FIRST" ]; then
		echo '{"hello":"static"}' > "$T/$b/srv/www/static.json"
		cat >> "$T/$b/lighttpd.conf" <<CONF
\$HTTP["url"] =~ "^/hello" {
  fastcgi.server = ( "/" => (( "socket" => "$T/$b/srv/sock/hello.sock", "bin-path" => "$ROOT/$BUILD/bench/hello.fcgi", "max-procs" => $PROCS, "check-local" => "disable", "bin-environment" => ( "DIFYCGI_THREADS" => "$THREADS" ) )) )
}
\$HTTP["url"] =~ "^/static" {
  fastcgi.server = ()
}
CONF
	fi
	lighttpd_up "$b" "$T/$b/lighttpd.conf" "${BASE[$b]}/v1/"

	# the list endpoints' data: 20 conversations, 20 messages in one
	for i in $(seq 20); do
		conv=$(curl -s "${BASE[$b]}/v1/chat-messages" -H "Authorization: Bearer ${KEY[$b]}" \
		    -H 'Content-Type: application/json' \
		    -d "{\"inputs\":{},\"query\":\"hi $i\",\"user\":\"bench\",\"auto_generate_name\":false${conv:+,\"conversation_id\":\"$conv\"}}" | jq -r .conversation_id)
		[ $i -lt 10 ] && conv=""
	done
	CONV[$b]=$(curl -s "${BASE[$b]}/v1/conversations?user=bench&limit=1" \
	    -H "Authorization: Bearer ${KEY[$b]}" | jq -r '.data[0].id')
	if [ -z "${CONV[$b]}" ] || [ "${CONV[$b]}" = null ]; then
		echo "bench: $b: no conversation made; the programs' log:" >&2
		cat "$T/$b/srv/fcgi.log" >&2
		exit 1
	fi
	# a second of each endpoint first: every worker thread has its
	# database connection and prepared statements before we measure
	for path in /v1/info /v1/parameters "/v1/conversations?user=bench" \
	    "/v1/messages?user=bench&conversation_id=${CONV[$b]}"; do
		wrk -t2 -c"$CONNS" -d1s -H "Authorization: Bearer ${KEY[$b]}" \
		    "${BASE[$b]}$path" >/dev/null
	done
}
for b in $BACKENDS; do up "$b"; done

ms() {
	case $1 in
	*us)	echo "${1%us}" | awk '{ printf "%.2f", $1 / 1000 }' ;;
	*ms)	echo "${1%ms}" ;;
	*s)	echo "${1%s}" | awk '{ printf "%.0f", $1 * 1000 }' ;;
	esac
}
# wrk1 URL [KEY]: one run; prints "req/s p99"
wrk1() {
	wrk -t2 -c"$CONNS" -d"$DURATION" --latency ${2:+-H "Authorization: Bearer $2"} "$1" |
	    awk '/Requests\/sec/ { rps = int($2 + 0.5) } / 99%/ { p99 = $2 } END { print rps, p99 }'
}
# median LINES: the line of the run with the median req/s
median() {
	printf '%s' "$1" | sort -n -k1 | sed -n "$(( (RUNS + 1) / 2 ))p"
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

printf 'wrk -t2 -c%s -d%s, median of %s runs; %s processes x %s threads per family\n' \
    "$CONNS" "$DURATION" "$RUNS" "$PROCS" "$THREADS"
legend="ratio: req/s over the hello-world floor's"
[ -z "$BOTH" ] || legend="$legend; pg/sqlite: PostgreSQL req/s over SQLite's"
printf '%s\n\n' "$legend"
heading 30 25
printf '%-30s' "target"
for b in $BACKENDS; do printf '  %9s %7s %7s' "req/s" "p99 ms" "ratio"; done
[ -z "$BOTH" ] || printf '  %9s' "pg/sqlite"
echo

HELLO=0
floor() {	# floor NAME PATH: measured once, on the first backend's lighttpd
	local out="" r med rps
	for r in $(seq "$RUNS"); do
		out="$out$(wrk1 "${BASE[$FIRST]}$2")
"
	done
	med=$(median "$out")
	rps=${med%% *}
	[ "$HELLO" != 0 ] || HELLO=$rps
	printf '%-30s  %9s %7s %7s  %s\n' "$1" "$rps" "$(ms "${med#* }")" \
	    "$(ratio "$rps" "$HELLO")" "(no database: once)"
}
measure() {	# measure NAME PATH: @CONV@ in PATH is the backend's conversation
	local -A out rps
	local r b med
	for r in $(seq "$RUNS"); do
		for b in $BACKENDS; do
			out[$b]="${out[$b]:-}$(wrk1 "${BASE[$b]}${2//@CONV@/${CONV[$b]}}" "${KEY[$b]}")
"
		done
	done
	printf '%-30s' "$1"
	for b in $BACKENDS; do
		med=$(median "${out[$b]}")
		rps[$b]=${med%% *}
		printf '  %9s %7s %7s' "${rps[$b]}" "$(ms "${med#* }")" "$(ratio "${rps[$b]}" "$HELLO")"
	done
	[ -z "$BOTH" ] || printf '  %9s' "$(ratio "${rps[postgresql]}" "${rps[sqlite]}")"
	echo
}
floor "hello-world FastCGI (floor)" /hello
floor "static file" /static.json
measure "GET /v1/info" /v1/info
measure "GET /v1/parameters" /v1/parameters
measure "GET /v1/conversations" "/v1/conversations?user=bench"
measure "GET /v1/messages" "/v1/messages?user=bench&conversation_id=@CONV@"

# Streaming, per backend: the first event of a chat (median of 50) and a
# whole 200-token stream, 2 ms a token (median of 10), through difycgi and
# straight from the fake upstream; the backends and the direct call take
# turns, so each backend's figure has the same direct one to subtract.
args=("$FAKE")
for b in $BACKENDS; do args+=("$b" "${BASE[$b]}" "${KEY[$b]}" "${SLOW[$b]}"); done
python3 - "${args[@]}" <<'PY'
import http.client, json, statistics, sys, urllib.parse, time
fake = sys.argv[1]
rest = sys.argv[2:]
backends = [rest[i:i + 4] for i in range(0, len(rest), 4)]

def stream(url, headers, body):
    """POST body, read the event stream: (first event s, whole stream s)"""
    u = urllib.parse.urlparse(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    t0 = time.perf_counter()
    c.request("POST", u.path, body=json.dumps(body), headers=headers)
    r = c.getresponse()
    first = None
    while True:
        line = r.readline()
        if not line:
            break
        if first is None and line.startswith(b"data: "):
            first = time.perf_counter() - t0
    total = time.perf_counter() - t0
    c.close()
    return first, total

def ours(base, key, user):
    return stream(base + "/v1/chat-messages",
        {"Authorization": "Bearer " + key, "Content-Type": "application/json"},
        {"inputs": {}, "query": "hi", "user": user, "response_mode": "streaming",
         "auto_generate_name": False})

def direct(model):
    return stream(fake + "/chat/completions", {"Content-Type": "application/json"},
        {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]})

first = {b[0]: [] for b in backends}
whole = {b[0]: [] for b in backends}
d_first, d_whole = [], []
for i in range(50):
    d_first.append(direct("gpt-test")[0])
    for name, base, key, slow in backends:
        first[name].append(ours(base, key, "ttfb")[0])
for i in range(10):
    d_whole.append(direct("slow-2-200")[1])
    for name, base, key, slow in backends:
        whole[name].append(ours(base, slow, "tok")[1])
df, dw = statistics.median(d_first) * 1000, statistics.median(d_whole) * 1000
print()
print("streaming chat: first event (median of 50) and a 200-token stream (median of 10);")
print("the fake upstream directly: first event %.2f ms, 200 tokens %.1f ms" % (df, dw))
print("%-12s %16s %10s %16s %16s" % ("backend", "first event ms", "added ms",
      "200 tokens ms", "per token ms"))
for name, base, key, slow in backends:
    f = statistics.median(first[name]) * 1000
    w = statistics.median(whole[name]) * 1000
    print("%-12s %16.2f %10.2f %16.1f %16.3f" % (name, f, f - df, w, (w - dw) / 200))
PY
