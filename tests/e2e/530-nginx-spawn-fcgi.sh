#!/bin/bash
# nginx with conf/nginx-difycgi.conf.in, the families started by the shipped
# spawn-fcgi wrapper (conf/difycgi-spawn.in) on unix sockets only the web
# server's user may use: Authorization and REQUEST_URI reach the programs,
# streams are unbuffered, and "difycgi-spawn stop" leaves nothing behind.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../deploy-lib.sh"
plan 29
L="nginx + spawn-fcgi"
deploy_setup
spawn_start
check "$L: the sockets are mode 0660, owned by the web server's user" \
    eval '[ "$(stat -c "%a %U" "$T/run/app.sock")" = "660 $RUN_AS" ]'
check "$L: the FastCGI sockets are the web server's user's alone" \
    sockets_private "$T/run"
check "$L: difycgi-spawn status reports the families running" \
    eval '"$T/difycgi-spawn" status > "$T/log/status" && grep -q "^app: running" "$T/log/status"'
nginx_start
deploy_checks "$L"
if [ $HAVE_CHAT = 1 ]; then
	check "$L: chat.fcgi runs CHAT_PROCS=2 processes (more than app.fcgi's 1)" \
	    eval '[ "$(pgrep -c -f "^$T/cgi-bin/chat.fcgi")" = 2 ] && [ "$(pgrep -c -f "^$T/cgi-bin/app.fcgi")" = 1 ]'
fi
deploy_stop_all "$L"
check "$L: the programs' stderr reaches LOG, not spawn-fcgi's /dev/null" \
    grep -q 'app.fcgi.* stopped' "$T/log/fcgi.log"
finish
