#!/bin/bash
# Migrations: ten processes migrating one fresh database at once apply
# each migration exactly once and leave a sound database; running them
# again is a no-op.  SQLite counts them in PRAGMA user_version,
# PostgreSQL in the table schema_migrations (its migrations are those of
# sql/pg/ when there is such a directory).
. "$(dirname "$0")/../lib.sh"
plan 6
for i in $(seq 10); do "$ADMIN" init > "$T/init.$i" 2>&1 & done
wait
MIGRATIONS="$ROOT/sql"
[ "$(db_backend)" = postgresql ] && [ -d "$ROOT/sql/pg" ] && MIGRATIONS="$ROOT/sql/pg"
N=$(ls "$MIGRATIONS"/*.sql | wc -l)
check "every process succeeded" bash -c "! grep -L 'at schema version $N' '$T'/init.* | grep -q ."
if [ "$(db_backend)" = postgresql ]; then
	check "schema_migrations holds each of the $N migrations once" \
	    test "$(sql "SELECT count(*), count(DISTINCT version), max(version) FROM schema_migrations")" = "$N|$N|$N"
else
	check "the schema version is the number of migrations ($N)" \
	    test "$(sql "PRAGMA user_version")" = "$N"
fi
check "each migration was applied by exactly one process" \
    test "$(cat "$T"/init.* | grep -c 'applied migration')" = "$N"
check "the database passes an integrity check" test "$(db_integrity)" = ok
if [ "$(db_backend)" = postgresql ]; then
	check "the tables are in place" \
	    test "$(sql "SELECT CAST(to_regclass('public.apps') IS NOT NULL AS INTEGER)")" = 1
else
	check "WAL mode and the tables are in place" \
	    test "$(sql "PRAGMA journal_mode")/$(sql "SELECT count(*) FROM sqlite_master WHERE name = 'apps'")" = "wal/1"
fi
DUMP=$(db_schema | md5sum)
"$ADMIN" init > "$T/again" 2>&1
check "a second run applies nothing and changes nothing" \
    eval '! grep -q applied "$T/again" && [ "$(db_schema | md5sum)" = "$DUMP" ]'
finish
