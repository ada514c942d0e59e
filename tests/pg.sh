#!/bin/sh
# tests/pg.sh: a throwaway PostgreSQL 15 cluster for the tests.
#
#   tests/pg.sh start DIR   make a cluster in DIR/data, start it, wait until
#                           it accepts connections, print "PGHOST=DIR" and
#                           "PGPORT=N" (for eval)
#   tests/pg.sh stop DIR    stop it (fast, then immediate) and remove DIR
#
# The cluster speaks only on a unix socket in DIR (listen_addresses is
# empty: nothing on the network), trusts every local user as any role
# (superuser "postgres"), keeps nothing safe on disk (fsync off) and logs
# to DIR/pg.log.  PGPORT only names the socket (DIR/.s.PGSQL.N).
# PostgreSQL refuses to run as root: then the server programs run as the
# postgres system user, DIR is postgres's, and DIR is open to everyone
# (0755, the socket 0777) so that root and the service user the programs
# may run as (www-data) both connect.  Otherwise all runs as the caller.
set -u
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

die() {
	echo "pg.sh: $*" >&2
	exit 1
}

# as_pg COMMAND...: run a server program as the user the cluster runs as
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
	dir=$1
	mkdir -p "$dir" || die "cannot make $dir"
	dir=$(cd "$dir" && pwd) || exit 1
	[ ! -e "$dir/data" ] || die "$dir/data exists already"
	if [ "$(id -u)" = 0 ]; then
		id -u postgres >/dev/null 2>&1 || die "no postgres user"
		chown postgres: "$dir" || exit 1
	fi
	chmod 755 "$dir" || exit 1
	# the server programs need a working directory they may enter
	cd "$dir" || exit 1
	port=$(free_port) || die "no free port"
	if ! as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -E UTF8 \
	    --locale=C -A trust --no-sync > "$dir/initdb.log" 2>&1; then
		cat "$dir/initdb.log" >&2
		die "initdb failed"
	fi
	cat >> "$dir/data/postgresql.conf" <<EOF
# tests/pg.sh: a throwaway cluster on a unix socket only
listen_addresses = ''
port = $port
unix_socket_directories = '$dir'
unix_socket_permissions = 0777
max_connections = 200
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
EOF
	if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 \
	    -s start >&2; then
		tail -20 "$dir/pg.log" >&2
		die "the server did not start"
	fi
	# pg_ctl -w waits for "ready"; a query proves it
	i=0
	until psql -X -q -h "$dir" -p "$port" -U postgres -d postgres \
	    -c 'SELECT 1' >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -ge 200 ]; then
			tail -20 "$dir/pg.log" >&2
			die "the server accepts no connection"
		fi
		sleep 0.05
	done
	echo "PGHOST='$dir'"
	echo "PGPORT=$port"
}

# postmaster_pid DIR: the running server's pid, from its pid file
postmaster_pid() {
	head -1 "$1/data/postmaster.pid" 2>/dev/null
}

stop() {
	dir=$1
	case $dir in ''|/) die "refusing to remove '$dir'" ;; esac
	[ -d "$dir" ] || return 0
	dir=$(cd "$dir" && pwd) || exit 1
	cd "$dir" || exit 1
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 -s \
		    stop >/dev/null 2>&1 ||
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 -s \
		    stop >/dev/null 2>&1
		# the server we started, still there after both: kill it
		pid=$(postmaster_pid "$dir")
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null
			sleep 0.5
		fi
	fi
	cd / && rm -rf "$dir"
}

case ${1:-} in
start)	[ $# -eq 2 ] || die "usage: pg.sh start DIR"; start "$2" ;;
stop)	[ $# -eq 2 ] || die "usage: pg.sh stop DIR"; stop "$2" ;;
*)	die "usage: pg.sh start|stop DIR" ;;
esac
