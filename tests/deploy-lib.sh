# tests/deploy-lib.sh: the deployment tests (tests/e2e/5*.sh), sourced
# after tests/lib.sh.  Each test fills a shipped template with
# tools/gen-deploy.sh, starts one web server from Debian's packages on a
# free loopback port with its own prefix under $T, runs deploy_checks
# against it, stops it and checks that nothing it started is left.
#
#   deploy_setup                 programs, database, apps, fake upstream
#   apache_start MODE TEMPLATE   MODE: fcgid, proxy or cgi
#   nginx_start / lighttpd_start / spawn_start
#   deploy_checks LABEL          the checks every configuration must pass
#                                (18: auth, routing, bodies, streams, stop,
#                                GET with a body, end users, sanitizer env)
#   deploy_stop_all LABEL        stop servers, then deploy_check_clean: one
#                                check per server stopped, then "nothing
#                                left" and "no sanitizer report"
# A missing prerequisite (chat.fcgi, lighttpd-mod-openssl) is a failure.
# The programs get tests/lib.sh's ASAN_OPTIONS and UBSAN_OPTIONS under
# every server, so that their reports land in $T as asan.PID / ubsan.PID.
GEN="$ROOT/tools/gen-deploy.sh"
FAKE_UPSTREAM=${FAKE_UPSTREAM:-$ROOT/tests/fake-upstream/fake_upstream.py}
WZ_404="The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."
STOPS=""		# "kind:pid" of what deploy_stop_all stops, newest first
SERVER_PIDS=""		# every process a server ran, for deploy_check_clean

# Programs that run as root refuse to, or should not: as root (CI) the
# servers run their workers and our programs as www-data.
if [ "$(id -u)" = 0 ]; then
	RUN_AS=www-data
else
	RUN_AS=$(id -un)
fi
RUN_GROUP=$(id -gn "$RUN_AS")

# cleanup (tests/lib.sh) takes the script's exit status from $?
deploy_cleanup() {
	_drc=$?
	deploy_stop_all quiet >/dev/null 2>&1
	(exit $_drc)
	cleanup
}
trap deploy_cleanup EXIT

# Poll "COMMAND..." every 50 ms until it succeeds, at most $1 seconds.
poll() {
	_n=$(($1 * 20)); shift
	while [ "$_n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		_n=$((_n - 1))
	done
	return 1
}

# deploy_setup: the programs copied to $T/cgi-bin (so that pgrep finds
# exactly this test's processes), a fresh database with the apps, the
# fake upstream when chat.fcgi exists, $T/difycgi.conf for DIFYCGI_CONFIG,
# and $T handed to the user the programs run as.  The file holds every
# DIFYCGI_* of tests/lib.sh: so the database (DIFYCGI_DB, or on
# PostgreSQL DIFYCGI_DATABASE_URL with DIFYCGI_SECRET_KEY) reaches the
# programs under every server, whatever environment it passes them
# (mod_fcgid only InitialEnv, lighttpd only bin-copy-environment).
deploy_setup() {
	mkdir -p "$T/cgi-bin" "$T/log"
	cp "$BUILD_DIR"/cgi-bin/*.fcgi "$T/cgi-bin/" || exit 1
	HAVE_CHAT=0
	[ -x "$BUILD_DIR/cgi-bin/chat.fcgi" ] && HAVE_CHAT=1
	"$ADMIN" init >/dev/null || exit 1
	if [ $HAVE_CHAT = 1 ]; then
		start_upstream || exit 1
		read -r APP KEY <<<"$(new_app chat --provider fake --model slow-100-20)"
		read -r APP2 KEY2 <<<"$(new_app chat --provider fake --model slow-100-40)"
	else
		read -r APP KEY <<<"$(new_app chat)"
	fi
	[ -n "${KEY:-}" ] || { echo "# could not create the app"; exit 1; }
	{
		echo "# written by tests/deploy-lib.sh"
		env | grep '^DIFYCGI_' | grep -v -e '^DIFYCGI_THREADS=' \
		    -e '^DIFYCGI_CONFIG=' | sort
	} > "$T/difycgi.conf"
	if [ "$(db_backend)" = postgresql ] && { ! grep -q '^DIFYCGI_DATABASE_URL=postgresql:' "$T/difycgi.conf" ||
	    ! grep -q '^DIFYCGI_SECRET_KEY=.' "$T/difycgi.conf"; }; then
		echo "# $T/difycgi.conf names no PostgreSQL database or secret"
		exit 1
	fi
	export DIFYCGI_CONFIG="$T/difycgi.conf"
	if [ "$(id -u)" = 0 ]; then
		chown -R "$RUN_AS:$RUN_GROUP" "$T"
		# others may pass through $T, so that what keeps them from the
		# sockets is the sockets' own permissions
		chmod 711 "$T"
	fi
	return 0
}

# sockets_private DIR: the FastCGI sockets there are the web server's
# alone (CVE-2025-23016): nobody else may write to them and, when we are
# root, user "nobody" cannot connect while $RUN_AS can
sockets_private() {
	_socks=$(find "$1" -type s 2>/dev/null)
	[ -n "$_socks" ] || { echo "# no socket in $1"; return 1; }
	for _s in $_socks; do
		[ -z "$(find "$_s" -perm /002)" ] || { echo "# $_s: others may write"; return 1; }
		[ "$(id -u)" = 0 ] || continue
		connect_as nobody "$_s" && { echo "# nobody connected to $_s"; return 1; }
		connect_as "$RUN_AS" "$_s" || { echo "# $RUN_AS cannot connect to $_s"; return 1; }
	done
	return 0
}

connect_as() {
	runuser -u "$1" -- /usr/bin/python3 -c 'import socket, sys
socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$2" 2>/dev/null
}

start_upstream() {
	if [ ! -f "$FAKE_UPSTREAM" ]; then
		not_ok "the fake upstream $FAKE_UPSTREAM exists (chat.fcgi does)"
		return 1
	fi
	python3 "$FAKE_UPSTREAM" --port-file "$T/upstream.port" \
	    > "$T/log/upstream.log" 2>&1 &
	UPSTREAM_PID=$!
	PIDS="$PIDS $UPSTREAM_PID"
	if ! poll 10 test -s "$T/upstream.port"; then
		not_ok "the fake upstream starts"
		return 1
	fi
	export DIFYCGI_PROVIDER_FAKE_BASE_URL="http://127.0.0.1:$(cat "$T/upstream.port")/v1"
}

# gen [--tls] TEMPLATE OUT [NAME=VALUE...]: fill a shipped template for
# this test; plain HTTP (--plain) unless --tls, with a throwaway
# certificate and free ports then (nginx -t binds its ports)
gen() {
	_plain=--plain
	if [ "$1" = --tls ]; then
		_plain="" ; shift
		tls_cert
		set -- "$@" HTTP_PORT="$(free_port)" HTTPS_PORT="$(free_port)"
	fi
	_tpl=$1 _out=$2; shift 2
	sh "$GEN" $_plain --only-built "$T/cgi-bin" CGIDIR="$T/cgi-bin" \
	    CONFIG="$T/difycgi.conf" RUNDIR="$T/run" SERVER_NAME=127.0.0.1 \
	    WEB_USER="$RUN_AS" WEB_GROUP="$RUN_GROUP" RUN_USER="$RUN_AS" \
	    RUN_GROUP="$RUN_GROUP" TLS_CERT="$T/tls/cert.pem" \
	    TLS_KEY="$T/tls/key.pem" "$@" "$ROOT/$_tpl" > "$_out" || {
		echo "# gen-deploy.sh failed on $_tpl"
		exit 1
	}
}

# a self-signed certificate, for checking the TLS lines of the templates
tls_cert() {
	[ -s "$T/tls/key.pem" ] && return 0
	mkdir -p "$T/tls"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -days 1 -subj /CN=127.0.0.1 -keyout "$T/tls/key.pem" \
	    -out "$T/tls/cert.pem" >/dev/null 2>&1
	chmod 644 "$T/tls/key.pem"
}

# configtest NAME LOG COMMAND...: the server accepts a configuration
configtest() {
	_name=$1 _log=$2; shift 2
	if "$@" > "$_log" 2>&1; then
		ok "$_name"
		return 0
	fi
	not_ok "$_name"
	sed 's/^/#   /' "$_log" | head -20
	return 1
}

# remember a server's processes as they are now (workers, spawned programs)
note_server_pids() {
	SERVER_PIDS="$SERVER_PIDS $(descendants "$1" | tr '\n' ' ')"
}

# ---- Apache ----

# apache_main MODE SITE [MODULE...]: the test's main configuration (its own
# ServerRoot, PidFile, ErrorLog and modules under $T/apache), including SITE
apache_main() {
	_mode=$1 _site=$2; shift 2
	_a="$T/apache"
	_m=/usr/lib/apache2/modules
	echo "# written by tests/deploy-lib.sh: the test's main config"
	echo "ServerRoot \"$_a\""
	echo "DefaultRuntimeDir \"$_a/run\""
	echo "PidFile \"$_a/run/httpd.pid\""
	echo "ErrorLog \"$_a/error.log\""
	echo "LogLevel warn"
	echo "Listen 127.0.0.1:$PORT"
	echo "ServerName 127.0.0.1"
	echo "DocumentRoot \"$_a/htdocs\""
	echo "Mutex file:$_a/run default"
	echo "Timeout 60"
	# the harness's sanitizer options (tests/lib.sh), so that the programs'
	# reports land in $T, where the checks look
	echo "PassEnv ASAN_OPTIONS UBSAN_OPTIONS"
	if [ "$(id -u)" = 0 ]; then
		echo "User $RUN_AS"
		echo "Group $RUN_GROUP"
	fi
	for mod in mpm_event authz_core authn_core alias mime env setenvif \
	    rewrite "$@"; do
		echo "LoadModule ${mod}_module $_m/mod_$mod.so"
	done
	echo "StartServers 1"
	echo "ThreadsPerChild 25"
	echo "MaxRequestWorkers 100"
	echo "TypesConfig /etc/mime.types"
	echo "<Directory />"
	echo "    AllowOverride None"
	echo "    Require all denied"
	echo "</Directory>"
	case $_mode in
	fcgid)
		echo "LoadModule fcgid_module $_m/mod_fcgid.so"
		echo "FcgidIPCDir \"$_a/fcgid\""
		echo "FcgidProcessTableFile \"$_a/fcgid/shm\""
		;;
	proxy)
		echo "LoadModule proxy_module $_m/mod_proxy.so"
		echo "LoadModule proxy_fcgi_module $_m/mod_proxy_fcgi.so"
		;;
	cgi)
		echo "LoadModule cgid_module $_m/mod_cgid.so"
		echo "ScriptSock \"$_a/run/cgisock\""
		;;
	esac
	echo "Include \"$_site\""
}

# fcgid_san_env SITE: the one change to what ships under mod_fcgid: the
# harness's sanitizer options reach the programs.  mod_fcgid gives a
# program only the InitialEnv of its FcgidCmdOptions (not PassEnv, not
# the server's environment).
fcgid_san_env() {
	_n=$(grep -c '^ *InitialEnv DIFYCGI_THREADS=1 InitialEnv DIFYCGI_CONFIG=' "$1")
	sed -i "s|^\( *InitialEnv DIFYCGI_THREADS=1 InitialEnv DIFYCGI_CONFIG=[^ ]*\)\$|\1 InitialEnv ASAN_OPTIONS=$ASAN_OPTIONS InitialEnv UBSAN_OPTIONS=$UBSAN_OPTIONS|" "$1"
	if [ "$_n" -eq 0 ] || [ "$(grep -c 'InitialEnv UBSAN_OPTIONS=' "$1")" -ne "$_n" ]; then
		echo "# $1: not every FcgidCmdOptions ends with InitialEnv DIFYCGI_CONFIG"
		exit 1
	fi
}

# apache_start MODE TEMPLATE: apache2 -DFOREGROUND on the site made from
# TEMPLATE (after checking that its TLS form passes apache2 -t too).
# APACHE_EXTRA: more lines for the main configuration.
apache_start() {
	_mode=$1 _tpl=$2
	_a="$T/apache"
	mkdir -p "$_a/run" "$_a/fcgid" "$_a/htdocs"
	PORT=$(free_port)
	gen --tls "$_tpl" "$_a/site-tls.conf"
	apache_main "$_mode" "$_a/site-tls.conf" ssl socache_shmcb > "$_a/httpd-tls.conf"
	gen "$_tpl" "$_a/site.conf" LISTEN="127.0.0.1:$PORT"
	[ "$_mode" = fcgid ] && fcgid_san_env "$_a/site.conf"
	{
		apache_main "$_mode" "$_a/site.conf"
		[ -n "${APACHE_EXTRA:-}" ] && printf '%s\n' "$APACHE_EXTRA"
	} > "$_a/httpd.conf"
	[ "$(id -u)" = 0 ] && chown -R "$RUN_AS:$RUN_GROUP" "$_a"
	configtest "$L: apache2 -t accepts $_tpl as shipped, with TLS" \
	    "$T/log/apache-tls.log" apache2 -t -f "$_a/httpd-tls.conf"
	configtest "$L: apache2 -t accepts $_tpl for plain HTTP" \
	    "$T/log/apache-t.log" apache2 -t -f "$_a/httpd.conf" || exit 1
	apache2 -DFOREGROUND -f "$_a/httpd.conf" &
	APACHE_PID=$!
	STOPS="apache:$APACHE_PID $STOPS"
	BASE="http://127.0.0.1:$PORT"
	wait_http "$BASE/health" || { tail -20 "$_a/error.log" | sed 's/^/#   /'; exit 1; }
}

# ---- spawn-fcgi through the shipped wrapper ----

# spawn_start: conf/difycgi-spawn.in filled for $T, run as "start"
spawn_start() {
	gen conf/difycgi-spawn.in "$T/difycgi-spawn" SPAWN_CONF="$T/spawn.conf"
	gen conf/spawn.conf.in "$T/spawn.conf"
	chmod 755 "$T/difycgi-spawn"
	if ! LOG="$T/log/fcgi.log" "$T/difycgi-spawn" start > "$T/log/spawn.log" 2>&1; then
		not_ok "difycgi-spawn start starts every family"
		sed 's/^/#   /' "$T/log/spawn.log"
		exit 1
	fi
	STOPS="spawn:0 $STOPS"
}

# ---- nginx ----

# nginx_main SITE: the test's main configuration, including SITE
nginx_main() {
	_n="$T/nginx"
	echo "# written by tests/deploy-lib.sh: the test's main config"
	echo "daemon off;"
	echo "worker_processes 2;"
	echo "pid $_n/nginx.pid;"
	echo "error_log $_n/error.log warn;"
	[ "$(id -u)" = 0 ] && echo "user $RUN_AS $RUN_GROUP;"
	echo "events { worker_connections 256; }"
	echo "http {"
	echo "    access_log $_n/access.log;"
	for d in client_body fastcgi proxy uwsgi scgi; do
		echo "    ${d}_temp_path $_n/tmp/$d;"
	done
	echo "    include $1;"
	echo "}"
}

nginx_start() {
	_n="$T/nginx"
	mkdir -p "$_n/tmp"
	PORT=$(free_port)
	cp /etc/nginx/fastcgi_params "$_n/"
	gen --tls conf/nginx-difycgi.conf.in "$_n/difycgi-tls.conf"
	nginx_main "$_n/difycgi-tls.conf" > "$_n/nginx-tls.conf"
	gen conf/nginx-difycgi.conf.in "$_n/difycgi.conf" LISTEN="127.0.0.1:$PORT"
	nginx_main "$_n/difycgi.conf" > "$_n/nginx.conf"
	[ "$(id -u)" = 0 ] && chown -R "$RUN_AS:$RUN_GROUP" "$_n"
	configtest "$L: nginx -t accepts conf/nginx-difycgi.conf.in as shipped, with TLS" \
	    "$T/log/nginx-tls.log" nginx -t -p "$_n" -e "$_n/error.log" -c "$_n/nginx-tls.conf"
	configtest "$L: nginx -t accepts conf/nginx-difycgi.conf.in for plain HTTP" \
	    "$T/log/nginx-t.log" nginx -t -p "$_n" -e "$_n/error.log" -c "$_n/nginx.conf" || exit 1
	nginx -p "$_n" -e "$_n/error.log" -c "$_n/nginx.conf" &
	NGINX_PID=$!
	STOPS="nginx:$NGINX_PID $STOPS"
	BASE="http://127.0.0.1:$PORT"
	wait_http "$BASE/health" || { tail -20 "$_n/error.log" | sed 's/^/#   /'; exit 1; }
}

# ---- lighttpd ----

# lighttpd_main SITE: the test's main configuration, including SITE
lighttpd_main() {
	_l="$T/lighttpd"
	echo "# written by tests/deploy-lib.sh: the test's main config"
	echo "server.modules = ( \"mod_access\" )"
	echo "server.bind = \"127.0.0.1\""
	echo "server.port = $PORT"
	echo "server.document-root = \"$_l/www\""
	echo "server.errorlog = \"$_l/error.log\""
	# as Debian's lighttpd.conf sets them: the shipped file must add to
	# these ("+="), not replace them
	echo 'server.http-parseopts = ( "header-strict" => "enable", "host-strict" => "enable", "host-normalize" => "enable", "url-normalize-unreserved" => "enable", "url-normalize-required" => "enable", "url-ctrls-reject" => "enable", "url-path-2f-decode" => "enable", "url-path-dotseg-remove" => "enable" )'
	if [ "$(id -u)" = 0 ]; then
		echo "server.username = \"$RUN_AS\""
		echo "server.groupname = \"$RUN_GROUP\""
	fi
	echo "include \"$1\""
}

lighttpd_start() {
	_l="$T/lighttpd"
	mkdir -p "$_l/www" "$_l/sock"
	chmod 750 "$_l/sock"	# as Debian makes /run/lighttpd
	PORT=$(free_port)
	_lg="LIGHTTPD_SOCKDIR=$_l/sock LIGHTTPD_LOGDIR=$T/log"
	gen --tls conf/lighttpd-difycgi.conf.in "$_l/difycgi-tls.conf" $_lg
	lighttpd_main "$_l/difycgi-tls.conf" > "$_l/lighttpd-tls.conf"
	gen conf/lighttpd-difycgi.conf.in "$_l/difycgi.conf" $_lg
	# the one change to what ships: the harness's sanitizer options reach
	# the programs (lighttpd passes only what bin-copy-environment names)
	_n=$(grep -c '"bin-copy-environment"' "$_l/difycgi.conf")
	sed -i 's/"bin-copy-environment" => ( "PATH", "TZ" )/"bin-copy-environment" => ( "PATH", "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS" )/' "$_l/difycgi.conf"
	if [ "$_n" -eq 0 ] || [ "$(grep -c '"ASAN_OPTIONS", "UBSAN_OPTIONS"' "$_l/difycgi.conf")" -ne "$_n" ]; then
		echo "# conf/lighttpd-difycgi.conf.in: bin-copy-environment is not ( \"PATH\", \"TZ\" ) in every family"
		exit 1
	fi
	lighttpd_main "$_l/difycgi.conf" > "$_l/lighttpd.conf"
	[ "$(id -u)" = 0 ] && chown -R "$RUN_AS:$RUN_GROUP" "$_l"
	if [ -f /usr/lib/lighttpd/mod_openssl.so ]; then
		configtest "$L: lighttpd -tt accepts conf/lighttpd-difycgi.conf.in as shipped, with TLS" \
		    "$T/log/lighttpd-tls.log" lighttpd -tt -f "$_l/lighttpd-tls.conf"
	else
		not_ok "$L: lighttpd-mod-openssl is installed, for the TLS form of the config"
	fi
	configtest "$L: lighttpd -tt accepts conf/lighttpd-difycgi.conf.in for plain HTTP" \
	    "$T/log/lighttpd-t.log" lighttpd -tt -f "$_l/lighttpd.conf" || exit 1
	lighttpd -D -f "$_l/lighttpd.conf" &
	LIGHTTPD_PID=$!
	STOPS="lighttpd:$LIGHTTPD_PID $STOPS"
	BASE="http://127.0.0.1:$PORT"
	wait_http "$BASE/health" || { tail -20 "$_l/error.log" | sed 's/^/#   /'; exit 1; }
}

# ---- the checks ----

# stream FILE KEY USER: POST a streaming chat; every line of the reply is
# written to FILE as "<arrival time> <line>" the moment it arrives, and
# "<time> EOF" when the connection closes.
stream() {
	curl -sN --max-time 25 -X POST -H "Authorization: Bearer $2" \
	    -H 'Content-Type: application/json' \
	    --data-binary "{\"inputs\":{},\"query\":\"hi\",\"user\":\"$3\",\"response_mode\":\"streaming\"}" \
	    "$BASE/v1/chat-messages" | {
		while IFS= read -r line; do
			printf '%s %s\n' "$EPOCHREALTIME" "$line"
		done
		printf '%s EOF\n' "$EPOCHREALTIME"
	} > "$1"
}

# events FILE: the "event" of every data: line, one a line
events() { sed -n 's/^[0-9.]* data: //p' "$1" | jq -r '.event // "?"' 2>/dev/null; }
# data_times FILE: arrival time of every data: line
data_times() { sed -n 's/^\([0-9.]*\) data: .*/\1/p' "$1"; }
# fcmp EXPR OP EXPR: compare numeric expressions ("$last - $first" ">=" 1)
fcmp() { awk "BEGIN { exit !(($1) $2 ($3)) }" </dev/null; }

deploy_checks() {
	L=$1
	req GET /v1/info "$KEY"
	check "$L: GET /v1/info with a key answers 200 with the app's name" \
	    body_is '.name == "test chat" and .mode == "chat"'
	req GET /v1/info app-thisisnotarealkey000000
	check "$L: a bad key gets Dify's exact 401 body" \
	    expect_error 401 unauthorized "Access token is invalid"
	req GET /v1/info ""
	check "$L: a missing Authorization header gets the 401 'must be provided'" \
	    expect_error 401 unauthorized "Authorization header must be provided and start with 'Bearer'"
	req GET /v1/no-such-endpoint "$KEY"
	check "$L: an unknown path gets Dify's JSON 404" \
	    expect_error 404 not_found "$WZ_404"
	req GET /health ""
	check "$L: GET /health reaches app.fcgi" body_is '.status == "ok"'

	if [ $HAVE_CHAT = 1 ]; then
		deploy_stream_checks
	else
		not_ok "$L: chat.fcgi is built, for the streaming checks"
	fi
	deploy_get_body_checks
	# a path no family claims reaches app.fcgi, which serves end users
	_u=$(sql "SELECT id FROM end_users WHERE app_id = '$APP' AND session_id = 'u1'")
	req GET "/v1/end-users/${_u:-none}" "$KEY"
	check "$L: GET /v1/end-users/{id} reaches app.fcgi: u1's detail" \
	    body_is ".id == \"$_u\" and .app_id == \"$APP\" and .session_id == \"u1\""
}

# A GET with a JSON body (axios sends one when given "data") is answered
# as if it had none, as Dify does: not the server's HTML 400, not our 400
# or 415, and the body is read to its end so that the connection serves
# the next request.
deploy_get_body_checks() {
	req GET /v1/info "$KEY"
	_plain=$BODY
	JSON='{"user":"u-get","inputs":{}}' req GET /v1/info "$KEY"
	check "$L: a GET with a JSON body answers as one without (app.fcgi)" \
	    eval '[ "$STATUS" = 200 ] && [ "$BODY" = "$_plain" ]'
	# u1 has the conversation of the first stream: the query's user counts
	JSON='{"user":"u-nobody","limit":1}' req GET "/v1/conversations?user=u1" "$KEY"
	check "$L: a GET with a JSON body answers as one without (conversation.fcgi, the query's user)" \
	    body_is '(.data | length) >= 1 and .limit == 20'
	head -c 60000 /dev/zero | tr '\0' 'x' > "$T/pad"
	printf '{"user":"u-get","pad":"%s"}' "$(cat "$T/pad")" > "$T/get.json"
	_out=$(curl -s -o /dev/null -w '%{http_code} %{num_connects} ' -X GET \
	    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	    --data-binary @"$T/get.json" "$BASE/v1/info" --next -s -o "$T/body" \
	    -w '%{http_code} %{num_connects}' -H "Authorization: Bearer $KEY" \
	    "$BASE/v1/info")
	STATUS="" BODY="status, connections: $_out; $(head -c 200 "$T/body")"
	check "$L: after a GET with a 60 KB body the same connection answers the next request" \
	    eval '[ "$_out" = "200 1 200 0" ] && [ "$(cat "$T/body")" = "$_plain" ]'
}

deploy_stream_checks() {
	rm -f "$T/s1.sse" "$T/s2.sse"
	# bodies: above mod_fcgid's default 128 KiB reaches us; above our 1 MiB
	# gets our JSON 413, not the server's page
	head -c 200000 /dev/zero | tr '\0' 'x' > "$T/pad"
	printf '{"inputs":{},"user":"u1","response_mode":"blocking","pad":"%s"}' \
	    "$(cat "$T/pad")" > "$T/big.json"
	rm -f "$T/body"
	STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -X POST \
	    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	    --data-binary @"$T/big.json" "$BASE/v1/chat-messages")
	BODY=$(cat "$T/body" 2>/dev/null)
	check "$L: a 200 KB body reaches chat.fcgi (a JSON 400 for the missing query)" \
	    body_is '.status == 400 and (.code | type) == "string"'
	head -c 1200000 /dev/zero | tr '\0' 'x' > "$T/pad"
	printf '{"inputs":{},"query":"hi","user":"u1","response_mode":"blocking","pad":"%s"}' \
	    "$(cat "$T/pad")" > "$T/big.json"
	rm -f "$T/body"
	STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -X POST \
	    -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	    --data-binary @"$T/big.json" "$BASE/v1/chat-messages")
	BODY=$(cat "$T/body" 2>/dev/null)
	check "$L: a 1.2 MB body gets our JSON 413, not the server's page" \
	    expect_error 413 request_entity_too_large "The data value transmitted exceeds the capacity limit."

	# events arrive as they are made: 20 deltas 100 ms apart
	t0=$EPOCHREALTIME
	stream "$T/s1.sse" "$KEY" u1 &
	spid=$!
	# while it streams, chat.fcgi runs even as plain CGI
	if poll 10 san_env_ok; then
		ok "$L: the programs run with the harness's ASAN_OPTIONS and UBSAN_OPTIONS (reports land in \$T)"
	else
		not_ok "$L: the programs run with the harness's ASAN_OPTIONS and UBSAN_OPTIONS (reports land in \$T)"
		for _p in $(pgrep -f "^$T/.*\.fcgi"); do
			echo "#   $_p $(tr '\0' ' ' < /proc/$_p/cmdline 2>/dev/null): $(tr '\0' '\n' < /proc/$_p/environ 2>/dev/null | grep SAN_OPTIONS | tr '\n' ' ')"
		done
	fi
	wait "$spid"
	first=$(data_times "$T/s1.sse" | head -1)
	last=$(data_times "$T/s1.sse" | tail -1)
	nmsg=$(events "$T/s1.sse" | grep -c '^message$')
	STATUS="" BODY="first=${first:-none} last=${last:-none} t0=$t0 messages=$nmsg: $(head -3 "$T/s1.sse" | tr '\n' '|' | head -c 300)"
	check "$L: a streaming chat answers message events then message_end" \
	    eval '[ "$nmsg" -ge 2 ] && [ "$(events "$T/s1.sse" | tail -1)" = message_end ]'
	check "$L: the first SSE event arrives over a second before the last (nothing buffers the stream)" \
	    eval '[ -n "$first" ] && fcmp "$last - $first" ">=" 1.0'
	check "$L: the first SSE event arrives within 1.5 s of the request" \
	    eval '[ -n "$first" ] && fcmp "$first - $t0" "<" 1.5'
	eof=$(sed -n 's/^\([0-9.]*\) EOF$/\1/p' "$T/s1.sse")
	STATUS="" BODY="message_end at ${last:-none}, connection closed at ${eof:-never}"
	check "$L: the connection closes within 1 s of message_end (after-work does not hold it)" \
	    eval '[ -n "$last" ] && [ -n "$eof" ] && fcmp "$eof - $last" "<" 1.0'

	# stop from a second request (under mod_fcgid: a second process)
	stream "$T/s2.sse" "$KEY2" u-stop &
	spid=$!
	poll 10 grep -qs '"task_id"' "$T/s2.sse"
	task=$(sed -n 's/^[0-9.]* data: //p' "$T/s2.sse" | head -1 | jq -r '.task_id // empty' 2>/dev/null)
	tstop=$EPOCHREALTIME
	jreq POST "/v1/chat-messages/$task/stop" "$KEY2" '{"user":"u-stop"}'
	check "$L: POST /v1/chat-messages/{task_id}/stop from a second request answers success" \
	    body_is '.result == "success"'
	poll 15 eval '! kill -0 $spid 2>/dev/null'
	wait "$spid" 2>/dev/null
	tend=$(data_times "$T/s2.sse" | tail -1)
	nmsg=$(events "$T/s2.sse" | grep -c '^message$')
	STATUS="" BODY="task=$task stop=$tstop end=${tend:-none} messages=$nmsg last=$(events "$T/s2.sse" | tail -1)"
	check "$L: the stopped stream ends early (fewer than 40 deltas, within 3 s) with message_end" \
	    eval '[ "$nmsg" -lt 40 ] && [ "$(events "$T/s2.sse" | tail -1)" = message_end ] && fcmp "$tend - $tstop" "<" 3'
}

# san_env_ok: at least one program of the test runs, and every one found
# has tests/lib.sh's ASAN_OPTIONS and UBSAN_OPTIONS, whose log_path is in $T
san_env_ok() {
	_seen=0
	for _p in $(pgrep -f "^$T/.*\.fcgi"); do
		tr '\0' '\n' < "/proc/$_p/environ" > "$T/environ" 2>/dev/null ||
		    continue
		[ -s "$T/environ" ] || continue
		grep -qxF "ASAN_OPTIONS=$ASAN_OPTIONS" "$T/environ" &&
		    grep -qxF "UBSAN_OPTIONS=$UBSAN_OPTIONS" "$T/environ" ||
		    return 1
		_seen=1
	done
	[ $_seen = 1 ]
}

# ---- stopping ----

# stop_pid PID SECONDS: SIGTERM, wait for the exit; 0 when it exited in time
stop_pid() {
	kill -TERM "$1" 2>/dev/null || return 0
	poll "$2" eval "! kill -0 $1 2>/dev/null" || { kill -KILL "$1" 2>/dev/null; return 1; }
	wait "$1" 2>/dev/null
	return 0
}

# deploy_stop_all LABEL: stop every server of the test (web server first,
# then the spawn-fcgi families), then check nothing is left
deploy_stop_all() {
	_label=$1 _stops=$STOPS
	STOPS=""
	for s in $_stops; do
		kind=${s%%:*} pid=${s#*:}
		case $kind in
		spawn)
			_t0=$EPOCHREALTIME
			if "$T/difycgi-spawn" stop > "$T/log/spawn-stop.log" 2>&1; then
				[ "$_label" = quiet ] || ok "$_label: difycgi-spawn stop stops every family ($(awk -v a="$_t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s)"
			else
				[ "$_label" = quiet ] || not_ok "$_label: difycgi-spawn stop stops every family"
				sed 's/^/#   /' "$T/log/spawn-stop.log"
			fi
			;;
		*)
			note_server_pids "$pid"
			_t0=$EPOCHREALTIME
			if stop_pid "$pid" 15; then
				[ "$_label" = quiet ] || ok "$_label: $kind exits on SIGTERM ($(awk -v a="$_t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s)"
			else
				[ "$_label" = quiet ] || not_ok "$_label: $kind exits on SIGTERM within 15 s"
			fi
			;;
		esac
	done
	# the fake upstream is the test's, not the server's
	[ -n "${UPSTREAM_PID:-}" ] && stop_pid "$UPSTREAM_PID" 5
	UPSTREAM_PID=""
	[ "$_label" = quiet ] || deploy_check_clean "$_label"
}

# running PID: alive and not a zombie (PID 1 may reap late)
running() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	''|Z*) return 1 ;;
	esac
	return 0
}

# nothing this test started is left: no program under $T, no server process
leftovers() {
	_left=$(pgrep -f "$T/" | tr '\n' ' ')
	for p in $SERVER_PIDS; do
		running "$p" && _left="$_left $p"
	done
	_left=$(echo $_left)
	[ -z "$_left" ]
}

# sanitizer reports: the report files of tests/lib.sh's log_path
# ($T/asan.PID, $T/ubsan.PID, one per process; programs under spawn-fcgi
# and every server write them there) and, should a program have written
# to stderr instead, the servers' logs
san_reports() {
	_f=$(ls "$T"/asan.* "$T"/ubsan.* 2>/dev/null)
	grep -l -s -e 'ERROR: AddressSanitizer' -e 'ERROR: LeakSanitizer' \
	    -e 'runtime error:' -r "$T" --include='*.log' > "$T/san.list"
	[ -z "$_f" ] && [ ! -s "$T/san.list" ] && return 0
	for _r in $_f; do
		echo "#   --- $(basename "$_r")"
		head -30 "$_r" | sed 's/^/#   /'
	done
	[ -s "$T/san.list" ] && xargs grep -h -A20 -e 'Sanitizer' \
	    -e 'runtime error:' < "$T/san.list" | head -40 | sed 's/^/#   /'
	return 1
}

# Every program the test started has exited (leak reports are written at
# exit), then no sanitizer report may exist.
deploy_check_clean() {
	if poll 30 leftovers; then
		ok "$1: no process of the test is left once the server stopped"
	else
		not_ok "$1: no process of the test is left once the server stopped"
		for p in $_left; do ps -o pid=,user=,args= -p "$p" | sed 's/^/#   /'; done
		kill -KILL $_left 2>/dev/null
	fi
	if san_reports > "$T/san.out"; then
		ok "$1: the programs wrote no sanitizer report (\$T/asan.*, \$T/ubsan.*, server logs)"
	else
		not_ok "$1: the programs wrote no sanitizer report (\$T/asan.*, \$T/ubsan.*, server logs)"
		cat "$T/san.out"
	fi
}
