#!/bin/bash
# Apache 2.4 + mod_proxy_fcgi with apache-conf/difycgi-proxy-fcgi.conf.in,
# the families started by the shipped spawn-fcgi wrapper: CGIPassAuth
# passes Authorization, REQUEST_URI stands in for the missing PATH_INFO,
# flushpackets=on streams, and everything stops cleanly.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../deploy-lib.sh"
plan 25
L="Apache mod_proxy_fcgi + spawn-fcgi"
deploy_setup
spawn_start
check "$L: the FastCGI sockets are the web server's user's alone" \
    sockets_private "$T/run"
apache_start proxy apache-conf/difycgi-proxy-fcgi.conf.in
deploy_checks "$L"
deploy_stop_all "$L"
finish
