#!/bin/bash
# Migrations: ten processes migrating one fresh database at once apply
# each migration exactly once and leave a sound database; running them
# again is a no-op.
. "$(dirname "$0")/../lib.sh"
plan 6
for i in $(seq 10); do "$ADMIN" init > "$T/init.$i" 2>&1 & done
wait
N=$(ls "$ROOT"/sql/*.sql | wc -l)
check "every process succeeded" bash -c "! grep -L 'at schema version $N' '$T'/init.* | grep -q ."
check "the schema version is the number of migrations ($N)" \
    test "$(sql "PRAGMA user_version")" = "$N"
check "each migration was applied by exactly one process" \
    test "$(cat "$T"/init.* | grep -c 'applied migration')" = "$N"
check "the database passes integrity_check" test "$(sql "PRAGMA integrity_check")" = ok
check "WAL mode and the tables are in place" \
    test "$(sql "PRAGMA journal_mode")/$(sql "SELECT count(*) FROM sqlite_master WHERE name = 'apps'")" = "wal/1"
DUMP=$(sqlite3 "$DIFYCGI_DB" .schema | md5sum)
"$ADMIN" init > "$T/again" 2>&1
check "a second run applies nothing and changes nothing" \
    bash -c "! grep -q 'applied' '$T/again' && [ \"\$(sqlite3 '$DIFYCGI_DB' .schema | md5sum)\" = '$DUMP' ]"
finish
