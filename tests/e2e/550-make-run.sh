#!/bin/bash
# `make run` itself (tools/run.sh), with the programs already built: it
# comes up on the port it is given, prints a key per demo app and curl
# commands that answer, keeps DATA_DIR private (directories 0700, files
# 0600, provider keys in no file), and stops on SIGTERM leaving no process
# behind.  Run twice on one DATA_DIR: offline, then through a provider
# (the fake upstream, which insists on the key).  No network.  make run
# keeps its database in DATA_DIR/dify.db: SQLite only.
# backends: sqlite
. "$(dirname "$0")/../lib.sh"
plan 16

R="$T/run"
SECRET=sk-make-run-secret-4f1c9a
start_fake_upstream --require-key "$SECRET"
unset DIFYCGI_PROVIDER_FAKE_BASE_URL
SAN=""
case $BUILD in *san*) SAN="SANITIZE=1" ;; esac

# make_run OUT [VAR=VALUE...]: `make run` in the background, on a free
# port, until it says it is ready; MAKE_PID and RUN_PORT
make_run() {
	_out=$1; shift
	RUN_PORT=$(free_port)
	(cd "$ROOT" && exec env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
	    PORT="$RUN_PORT" DATA_DIR="$R" "$@" \
	    make --no-print-directory run BUILD="$BUILD" $SAN) > "$_out" 2>&1 &
	MAKE_PID=$!
	PIDS="$PIDS $MAKE_PID"
	_i=0
	while ! grep -qs 'Press Ctrl-C to stop' "$_out"; do
		if ! kill -0 "$MAKE_PID" 2>/dev/null || [ $_i -ge 2400 ]; then
			echo "# make run did not come up:"
			tail -20 "$_out" | sed 's/^/#   /'
			return 1
		fi
		sleep 0.05
		_i=$((_i + 1))
	done
}

# printed_key NAME: the key make run printed for demo app NAME
printed_key() {
	sed -n "s/^  $1  *\(app-[A-Za-z0-9]\{24\}\)\$/\1/p" "$T/run1.out"
}

# the printed streaming command, its continuation lines joined
stream_cmd() {
	sed -n '/^  curl -N /,/-d /p' "$1" | sed 's/\\$//' | tr '\n' ' '
}

# stream_ends_well FILE: message events, then message_end, no error
stream_ends_well() {
	sed -n 's/^data: //p' "$1" | jq -r .event > "$1.events" 2>/dev/null
	grep -qx message "$1.events" && [ "$(tail -1 "$1.events")" = message_end ] &&
	    ! grep -qx error "$1.events"
}

# not_private: what under DATA_DIR group or others may use
not_private() { find "$R" -perm /077; }

# leftover: a process of make run still there (lighttpd, a program of
# this build serving DATA_DIR)
leftover() {
	_lp=$(cat "$R/server/lighttpd.pid" 2>/dev/null)
	[ -n "$_lp" ] && ! gone "$_lp" && echo "$_lp lighttpd"
	for _e in /proc/[0-9]*/exe; do
		_x=$(readlink "$_e" 2>/dev/null) || continue
		case $_x in "$BUILD_DIR"/*) ;; *) continue ;; esac
		_d=${_e%/exe}
		grep -qszFx "DIFYCGI_DATA_DIR=$R" "$_d/environ" &&
		    ! gone "${_d#/proc/}" && echo "${_d#/proc/} $_x"
	done
}

# stop_run OUT LABEL: SIGTERM to make, which passes it on to tools/run.sh
stop_run() {
	kill -TERM "$MAKE_PID"
	_i=0
	while ! gone "$MAKE_PID" && [ $_i -lt 1200 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	wait "$MAKE_PID" 2>/dev/null
	_o=$1
	STATUS="" BODY="$(tail -3 "$_o" | tr '\n' '|')"
	check "$2: make run stops on SIGTERM and says so" \
	    eval 'gone "$MAKE_PID" && grep -qx stopped "$_o"'
	# at once: tools/run.sh waits for the programs before it says stopped
	_left=$(leftover)
	STATUS="" BODY="left: $_left"
	check "$2: no process of make run is left once it stopped" \
	    eval '[ -z "$_left" ]'
	[ -z "$_left" ] || kill -KILL $(echo "$_left" | cut -d' ' -f1) 2>/dev/null
}

# ---- offline, a fresh DATA_DIR ----
make_run "$T/run1.out" || exit 1
STATUS="" BODY=$(head -c 600 "$T/run1.out")
check "make run comes up on the PORT it is given" \
    grep -q "serving the Dify Service API on http://127.0.0.1:$RUN_PORT/v1" "$T/run1.out"
names="completion chat agent-chat workflow advanced-chat"
n=0
for a in $names; do [ -n "$(printed_key "$a")" ] && n=$((n + 1)); done
check "make run prints a key for each of the five demo apps" eval '[ $n = 5 ]'
check "demo-keys.env holds the keys it printed" eval '
	. "$R/demo-keys.env" && [ "$COMPLETION_KEY" = "$(printed_key completion)" ] &&
	[ "$CHAT_KEY" = "$(printed_key chat)" ] &&
	[ "$ADVANCED_CHAT_KEY" = "$(printed_key advanced-chat)" ]'
cmd=$(sed -n "s|^  \(curl -s http://127.0.0.1:$RUN_PORT/v1/info -H 'Authorization: Bearer app-[A-Za-z0-9]*'\)\$|\1|p" "$T/run1.out")
BODY=$([ -n "$cmd" ] && sh -c "$cmd")
STATUS="cmd=$cmd"
check "the printed curl command answers with the demo chat app's info" \
    body_is '.name == "Demo chat" and .mode == "chat"'
cmd=$(stream_cmd "$T/run1.out")
sh -c "$cmd" > "$T/stream1" 2>&1
STATUS="cmd=$cmd" BODY=$(grep -v -e "% Total" -e Dload "$T/stream1" | tail -c 800)
check "the printed streaming command answers (offline provider): message events, then message_end" \
    stream_ends_well "$T/stream1"
bad=""
for a in $names; do
	BASE="http://127.0.0.1:$RUN_PORT"
	req GET /v1/info "$(printed_key "$a")"
	printf '%s' "$BODY" | jq -e --arg m "$a" '.mode == $m' >/dev/null 2>&1 ||
	    bad="$bad $a:$STATUS"
done
STATUS="" BODY="wrong:$bad"
check "each printed key answers /v1/info with its demo app's mode" eval '[ -z "$bad" ]'
STATUS="" BODY="$(not_private | head -20 | tr '\n' ' ')"
check "nothing under DATA_DIR is open to group or others (directories 0700, files 0600)" \
    eval '[ -z "$(not_private)" ]'
modes=""
for f in dify.db dify.db-wal dify.db-shm lighttpd.conf demo-keys.env \
    demo-apps.env server/fcgi.log server/lighttpd-error.log; do
	modes="$modes $f=$(stat -c %a "$R/$f" 2>/dev/null || echo missing)"
done
modes="$modes run=$(stat -c %a "$R") server=$(stat -c %a "$R/server")"
STATUS="" BODY=$modes
check "the database with its -wal and -shm, the config, keys and logs are 0600, the directories 0700" \
    eval '[ "$modes" = " dify.db=600 dify.db-wal=600 dify.db-shm=600 lighttpd.conf=600 demo-keys.env=600 demo-apps.env=600 server/fcgi.log=600 server/lighttpd-error.log=600 run=700 server=700" ]'
stop_run "$T/run1.out" "offline"

# ---- through a provider, on what the first run left, made readable ----
chmod 644 "$R/demo-apps.env" "$R/dify.db"
chmod 755 "$R" "$R/server"
make_run "$T/run2.out" OPENAI_BASE_URL="http://127.0.0.1:$FAKE_PORT/v1" \
    OPENAI_API_KEY="$SECRET" OPENAI_MODEL=echo || exit 1
STATUS="" BODY=$(head -c 600 "$T/run2.out")
check "make run comes up with the provider it is given" \
    grep -q "model provider: openai, model: echo" "$T/run2.out"
cmd=$(stream_cmd "$T/run2.out")
sh -c "$cmd" > "$T/stream2" 2>&1
STATUS="cmd=$cmd" BODY=$(head -c 400 "$T/stream2")
check "the printed streaming command answers through the provider (which checks the key)" \
    stream_ends_well "$T/stream2"
STATUS="" BODY="$(grep -rlF "$SECRET" "$R" 2>/dev/null | tr '\n' ' ')"
check "the provider key is in no file under DATA_DIR (lighttpd.conf names it, the environment holds it)" \
    eval '! grep -rqF "$SECRET" "$R"'
STATUS="" BODY="$(not_private | head -20 | tr '\n' ' ')"
check "files and directories an older run left readable are private again" \
    eval '[ -z "$(not_private)" ]'
stop_run "$T/run2.out" "with a provider"
finish
