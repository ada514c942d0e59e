#!/bin/bash
# Defect 9 (issue 11): what the programs and dify-admin create in
# DIFYCGI_DATA_DIR is private whatever the umask they are started with:
# the database 0600 (and so its -wal and -shm, which SQLite gives the
# database's mode), uploads 0600 in directories 0700.  A database that
# exists keeps the mode the operator gave it.  All about the SQLite file
# but one check (uploads, which no backend changes).
# backends: sqlite
. "$(dirname "$0")/../lib.sh"
plan 6
umask 022
start_fake_upstream
start_server
read -r A KA <<<"$(new_app chat --provider fake --model echo)"
jreq POST /v1/chat-messages "$KA" '{"inputs":{},"query":"hi","user":"u1","response_mode":"blocking"}'

mode() { stat -c %a "$1" 2>/dev/null || echo missing; }
check "dify-admin init creates the database 0600 under umask 022" \
    eval '[ "$(mode "$DIFYCGI_DB")" = 600 ]'
STATUS="" BODY="-wal $(mode "$DIFYCGI_DB-wal"), -shm $(mode "$DIFYCGI_DB-shm")"
check "the database's -wal and -shm, open by the programs, are 0600" \
    eval '[ "$BODY" = "-wal 600, -shm 600" ]'

printf 'hello' > "$T/a.txt"
req POST /v1/files/upload "$KA" -F "file=@$T/a.txt;type=text/plain" -F user=u1
F=$(printf '%s' "$BODY" | jq -r .id)
STATUS="" BODY="file $(mode "$T/files/$A/$F"), files/ $(mode "$T/files"), files/APP $(mode "$T/files/$A")"
check "an upload is stored 0600 in directories 0700" \
    eval '[ "$BODY" = "file 600, files/ 700, files/APP 700" ]'

# a program meeting no database creates it (here as plain CGI)
cgi_db() {
	env DIFYCGI_DB="$1" REQUEST_METHOD=GET REQUEST_URI=/health \
	    "$BUILD_DIR/cgi-bin/app.fcgi" < /dev/null > "$T/cgi.out" 2>> "$T/cgi.err"
}
cgi_db "$T/cgi.db"
STATUS="" BODY="$(head -c 300 "$T/cgi.out")"
check "a program creates a missing database 0600 (and answers)" \
    eval 'grep -q "\"status\":\"ok\"" "$T/cgi.out" && [ "$(mode "$T/cgi.db")" = 600 ]'
DIFYCGI_DB="$T/admin2.db" "$ADMIN" init >/dev/null 2>&1
check "dify-admin creates a database 0600 at any DIFYCGI_DB" \
    eval '[ "$(mode "$T/admin2.db")" = 600 ]'
chmod 640 "$T/cgi.db"
cgi_db "$T/cgi.db"
check "an existing database keeps the mode it was given (0640)" \
    eval '[ "$(mode "$T/cgi.db")" = 640 ]'
finish
