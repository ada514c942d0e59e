#!/bin/bash
# The DSL fuzz target keeps building: its replay build (tests/fuzz/
# fuzz_dsl.c with -DFUZZ_REPLAY, linked against this build's library)
# runs over its seeds and every fixture, checking the reader's invariants.
. "$(dirname "$0")/../lib.sh"
PKGS="fcgi json-c sqlite3 libcurl yaml-0.1"
SAN=""
# a sanitized library needs the sanitizers at link time too
grep -qa __asan_report "$BUILD_DIR/libdify.a" &&
    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer"
if ${CC:-cc} -DFUZZ_REPLAY -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
    $SAN -I"$ROOT/lib" $(pkg-config --cflags $PKGS) -o "$T/fuzz_dsl_replay" \
    "$ROOT/tests/fuzz/fuzz_dsl.c" "$BUILD_DIR/libdify.a" \
    $(pkg-config --libs $PKGS) -lpthread -lm 2>"$T/cc.err"; then
	ok "the DSL fuzz target builds as a replay program"
else
	not_ok "the DSL fuzz target builds as a replay program"
	sed 's/^/#   /' "$T/cc.err" | head -20
	finish
	exit
fi
"$T/fuzz_dsl_replay" "$ROOT/tests/fuzz/corpus/dsl" \
    "$ROOT/../shared/fixtures/dsl" 2>"$T/replay.err"
rc=$?
[ $rc = 0 ] || { not_ok "the replay exits 0"; head -20 "$T/replay.err" | sed 's/^/#   /'; }
finish
