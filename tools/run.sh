#!/bin/sh
# `make run`: create the database and demo apps of every mode, issue keys,
# serve the API with lighttpd on 127.0.0.1:$PORT in the foreground, and
# print a curl command to try.  Ctrl-C (or SIGTERM) stops everything.
#   PORT (8080)  DATA_DIR (./run)  OPENAI_BASE_URL, OPENAI_API_KEY,
#   OPENAI_MODEL (gpt-4o-mini): use that provider instead of the offline one
# Everything under DATA_DIR (database, keys, configuration, logs) is the
# user's alone: directories 0700, files 0600.  Provider keys reach the
# programs through the environment, never through a file.
set -eu
umask 077
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PORT=${PORT:-8080}
DATA_DIR=${DATA_DIR:-./run}
mkdir -p "$DATA_DIR"
DATA_DIR=$(cd "$DATA_DIR" && pwd)
# what an older run left may be readable by others
chmod -R go= "$DATA_DIR"
ADMIN="$PWD/$BUILD/dify-admin"
export DIFYCGI_DATA_DIR="$DATA_DIR"
export DIFYCGI_DB="$DATA_DIR/dify.db"

if [ -n "${OPENAI_BASE_URL:-}" ]; then
	export DIFYCGI_PROVIDER_OPENAI_BASE_URL="$OPENAI_BASE_URL"
	[ -z "${OPENAI_API_KEY:-}" ] || export DIFYCGI_PROVIDER_OPENAI_API_KEY="$OPENAI_API_KEY"
	provider=openai model=${OPENAI_MODEL:-gpt-4o-mini}
else
	provider=offline model=offline-demo
fi

"$ADMIN" init >/dev/null
apps="$DATA_DIR/demo-apps.env"
# demo apps are kept between runs unless the provider changed
if [ -f "$apps" ] && grep -q "^PROVIDER=$provider/$model\$" "$apps"; then
	. "$apps"
else
	if [ -f "$apps" ]; then
		. "$apps"
		for id in $COMPLETION_APP $CHAT_APP $AGENT_CHAT_APP $WORKFLOW_APP $ADVANCED_CHAT_APP; do
			"$ADMIN" app delete "$id" >/dev/null 2>&1 || true
		done
	fi
	mk() {
		"$ADMIN" app create --provider "$provider" --model "$model" --site "$@"
	}
	COMPLETION_APP=$(mk --mode completion --name "Demo completion" \
	    --pre-prompt "Answer briefly. Topic: {{topic}}" \
	    --input text-input:topic:Topic:required:max=100)
	CHAT_APP=$(mk --mode chat --name "Demo chat" \
	    --opening-statement "Hello! Ask me anything." \
	    --suggested-question "What can you do?" \
	    --feature suggested_questions_after_answer=on)
	AGENT_CHAT_APP=$(mk --mode agent-chat --name "Demo agent")
	WORKFLOW_APP=$(mk --mode workflow --name "Demo workflow")
	ADVANCED_CHAT_APP=$(mk --mode advanced-chat --name "Demo chatflow")
	cat > "$apps" <<APPS
PROVIDER=$provider/$model
COMPLETION_APP=$COMPLETION_APP
CHAT_APP=$CHAT_APP
AGENT_CHAT_APP=$AGENT_CHAT_APP
WORKFLOW_APP=$WORKFLOW_APP
ADVANCED_CHAT_APP=$ADVANCED_CHAT_APP
APPS
fi

# keys are stored hashed, so each run issues fresh ones
COMPLETION_KEY=$("$ADMIN" key create "$COMPLETION_APP")
CHAT_KEY=$("$ADMIN" key create "$CHAT_APP")
AGENT_CHAT_KEY=$("$ADMIN" key create "$AGENT_CHAT_APP")
WORKFLOW_KEY=$("$ADMIN" key create "$WORKFLOW_APP")
ADVANCED_CHAT_KEY=$("$ADMIN" key create "$ADVANCED_CHAT_APP")

rm -f "$DATA_DIR/demo-keys.env" "$DATA_DIR/lighttpd.conf"
sh tools/gen-lighttpd.sh "$PORT" "$BUILD" "$DATA_DIR/server" > "$DATA_DIR/lighttpd.conf"
lighttpd -D -f "$DATA_DIR/lighttpd.conf" &
pid=$!

# running PID: not exited (a zombie has)
running() {
	[ -r "/proc/$1/stat" ] || return 1
	case $(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) in
	Z|X|'') return 1 ;;
	esac
	return 0
}

# Stop lighttpd, then wait (at most 30 s) for the FastCGI programs it
# started, which exit after it once their requests are done.
stop() {
	trap - INT TERM EXIT
	progs=$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	n=300
	for p in $progs; do
		while running "$p" && [ $n -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
		running "$p" && kill -KILL "$p" 2>/dev/null
	done
	echo "stopped"
	exit 0
}
trap stop INT TERM EXIT

i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/v1/"; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 "$pid" 2>/dev/null; then
		echo "lighttpd did not start; see $DATA_DIR/server/lighttpd-error.log" >&2
		exit 1
	fi
	sleep 0.1
done
cat > "$DATA_DIR/demo-keys.env" <<KEYS
COMPLETION_KEY=$COMPLETION_KEY
CHAT_KEY=$CHAT_KEY
AGENT_CHAT_KEY=$AGENT_CHAT_KEY
WORKFLOW_KEY=$WORKFLOW_KEY
ADVANCED_CHAT_KEY=$ADVANCED_CHAT_KEY
KEYS

cat <<MSG

difycgi is serving the Dify Service API on http://127.0.0.1:$PORT/v1
(model provider: $provider, model: $model; data in $DATA_DIR)

Demo app keys (also in $DATA_DIR/demo-keys.env):
  completion     $COMPLETION_KEY
  chat           $CHAT_KEY
  agent-chat     $AGENT_CHAT_KEY
  workflow       $WORKFLOW_KEY
  advanced-chat  $ADVANCED_CHAT_KEY

Try:
  curl -s http://127.0.0.1:$PORT/v1/info -H 'Authorization: Bearer $CHAT_KEY'

  curl -N http://127.0.0.1:$PORT/v1/chat-messages \\
    -H 'Authorization: Bearer $CHAT_KEY' -H 'Content-Type: application/json' \\
    -d '{"inputs": {}, "query": "Hello", "user": "demo", "response_mode": "streaming"}'

Logs: $DATA_DIR/server/fcgi.log.  Press Ctrl-C to stop.
MSG
wait "$pid"
