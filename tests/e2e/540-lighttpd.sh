#!/bin/bash
# lighttpd with conf/lighttpd-difycgi.conf.in: lighttpd spawns every family
# (max-procs per family: 4 for the streaming ones, 1 for the rest),
# stream-response-body = 2 streams, breakagelog keeps the programs' stderr,
# a stop reaches the stream across processes, and lighttpd takes its
# programs down when it stops.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../deploy-lib.sh"
plan 27
L="lighttpd"
deploy_setup
lighttpd_start
deploy_checks "$L"
if [ $HAVE_CHAT = 1 ]; then
	check "$L: chat.fcgi runs max-procs = 4 processes, app.fcgi 1" \
	    eval '[ "$(pgrep -c -f "^$T/cgi-bin/chat.fcgi")" = 4 ] && [ "$(pgrep -c -f "^$T/cgi-bin/app.fcgi")" = 1 ]'
fi
check "$L: the programs run as the web server's user" \
    eval '[ "$(ps -o user= -p "$(pgrep -f "^$T/cgi-bin/app.fcgi" | head -1)")" = "$RUN_AS" ]'
check "$L: the FastCGI sockets are the web server's user's alone" \
    sockets_private "$T/lighttpd/sock"
deploy_stop_all "$L"
check "$L: the programs' stderr reaches server.breakagelog" \
    grep -q 'app.fcgi.* stopped' "$T/log/difycgi.log"
finish
