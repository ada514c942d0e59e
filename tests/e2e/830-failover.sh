#!/bin/bash
# backends: postgresql
# Fail-over, as README "Many machines" describes it: a primary and a
# synchronous streaming-replication standby, both named in the URL with
# target_session_attrs=read-write.  The primary dies under traffic, the
# standby is promoted, and the programs find the new primary by
# themselves: every message they answered 200 for is on it, requests in
# the gap waited or got a JSON error, and traffic flows again.
. "$(dirname "$0")/../lib.sh"
plan 7
PGBIN=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
field() { printf '%s\n' "$2" | sed -n "s/^$1='\{0,1\}\([^']*\)'\{0,1\}$/\1/p"; }

P=$(mktemp -d /tmp/difycgi-primary.XXXXXX)
S=$(mktemp -d /tmp/difycgi-standby.XXXXXX)
CLEANUP_AFTER="sh '$ROOT/tests/pg.sh' stop '$P' >/dev/null 2>&1; sh '$ROOT/tests/pg.sh' stop '$S' >/dev/null 2>&1"
E=$(sh "$ROOT/tests/pg.sh" start "$P") || { not_ok "the primary starts"; exit 1; }
PH=$(field PGHOST "$E") PP=$(field PGPORT "$E")
ppsql() { psql -X -q -A -t -h "$PH" -p "$PP" -U postgres "$@"; }
# commits wait for the standby: what was acknowledged survives the loss
ppsql -d postgres -c "ALTER SYSTEM SET synchronous_commit = on" \
    -c "ALTER SYSTEM SET synchronous_standby_names = '*'" \
    -c "ALTER SYSTEM SET wal_level = replica" >/dev/null || exit 1
ppsql -d postgres -c "SELECT pg_reload_conf()" >/dev/null

# the standby: a base backup of the primary, on a socket of its own
rmdir "$S/data" 2>/dev/null
[ "$(id -u)" = 0 ] && chown postgres "$S"
chmod 755 "$S"
SP=$(free_port)
(cd "$S" && as_pg "$PGBIN/pg_basebackup" -h "$PH" -p "$PP" -U postgres -D "$S/data" -R -X stream) \
    > "$T/basebackup.log" 2>&1 || { not_ok "the standby's base backup"; cat "$T/basebackup.log"; exit 1; }
cat >> "$S/data/postgresql.conf" <<CONF
port = $SP
unix_socket_directories = '$S'
CONF
# the base backup carries the primary's ALTER SYSTEM settings: once
# promoted, the standby has no standby of its own to wait for
echo "synchronous_standby_names = ''" >> "$S/data/postgresql.auto.conf"
(cd "$S" && as_pg "$PGBIN/pg_ctl" -D "$S/data" -l "$S/pg.log" -w -t 60 start) > /dev/null 2>&1 ||
    { not_ok "the standby starts"; tail "$S/pg.log"; exit 1; }
spsql() { psql -X -q -A -t -h "$S" -p "$SP" -U postgres "$@"; }
streaming() { [ "$(ppsql -d postgres -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'")" = 1 ]; }
wait_for 30 streaming
check "the standby streams from the primary, synchronously" streaming

ppsql -d postgres -c "CREATE DATABASE dify" >/dev/null
export DIFYCGI_DATABASE_URL="postgresql://postgres@/dify?host=$PH,$S&port=$PP,$SP&target_session_attrs=read-write"
export DIFYCGI_DB_TIMEOUT_MS=10000
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model gpt-test)"

: > "$T/traffic"
traffic() {
	i=0
	while [ ! -e "$T/traffic.stop" ]; do
		i=$((i + 1))
		curl -s -o "$T/t.body" -w '%{http_code} %{time_total}' "$BASE/v1/chat-messages" \
		    -H "Authorization: Bearer $KA" -H 'Content-Type: application/json' --max-time 30 \
		    -d "{\"inputs\":{},\"query\":\"t$i\",\"user\":\"traffic\",\"auto_generate_name\":false}" > "$T/t.code"
		printf '%s %s\n' "$(cat "$T/t.code")" "$(jq -c '{id, code}' "$T/t.body" 2>/dev/null || echo null)" >> "$T/traffic"
	done
}
lines() { wc -l < "$T/traffic"; }
grown() { [ "$(lines)" -ge "$1" ]; }
traffic &
TPID=$!
wait_for 20 grown 20
# the primary is lost at once, with no shutdown
(cd "$P" && as_pg "$PGBIN/pg_ctl" -D "$P/data" -m immediate -w stop) > /dev/null 2>&1
t_lost=$(date +%s.%N)
sleep 1
(cd "$S" && as_pg "$PGBIN/pg_ctl" -D "$S/data" -w promote) > /dev/null 2>&1
promoted() { [ "$(spsql -d postgres -c 'SELECT pg_is_in_recovery()')" = f ]; }
wait_for 30 promoted
check "the standby is promoted" promoted
n0=$(lines)
wait_for 40 grown $((n0 + 20))
touch "$T/traffic.stop"
wait $TPID
ok_ids=$(grep '^200 ' "$T/traffic" | cut -d' ' -f3- | jq -r .id)
n_ok=$(printf '%s\n' $ok_ids | grep -c .)
stored=$(for id in $ok_ids; do echo "'$id'"; done | paste -sd, -)
n_stored=$(spsql -d dify -c "SELECT count(*) FROM messages WHERE id IN ($stored) AND status = 'normal'")
check "every message answered 200, before and after the fail-over, is on the new primary ($n_stored of $n_ok)" \
    test "$n_stored" = "$n_ok"
n_bad=$(grep -vc '^200 ' "$T/traffic")
check "requests in the gap waited or got a JSON error ($n_bad failed)" \
    bash -c "! grep -v '^200 ' '$T/traffic' | grep -v '\"code\":\"[a-z_]*\"' | grep -q ."
tail -10 "$T/traffic" > "$T/traffic.tail"
check "traffic flows again on the new primary, without a restart of the programs" \
    test "$(grep -c '^200 ' "$T/traffic.tail")" = 10
check "the programs logged the reconnection" grep -q "connected to PostgreSQL again" "$T"/srv/fcgi.log
req GET "/v1/conversations?user=traffic&limit=1" "$KA"
check "listings read from the new primary" body_is '.data | length == 1'
echo "# $(grep -c '^200 ' "$T/traffic") requests answered, $n_bad failed; primary lost at $t_lost"
finish
