#!/bin/bash
# The DSL fuzz target's replay build ($(BUILD)/fuzz/fuzz_dsl, which make
# builds and make test runs over its seeds) keeps the reader's invariants
# on the 40 real DSL fixtures too: accepted or refused with problems, and
# every accepted file exports and imports again to the same app.
. "$(dirname "$0")/../lib.sh"
plan 1
REPLAY="$BUILD_DIR/fuzz/fuzz_dsl"
if [ ! -x "$REPLAY" ]; then
	not_ok "the DSL fuzz target's replay build exists ($REPLAY)"
	exit 1
fi
replay() {	# its own "ok" line and any report stay in files
	"$REPLAY" "$FIXTURES" > "$T/replay.out" 2> "$T/replay.err" && return
	sed 's/^/#   /' "$T/replay.out"; head -20 "$T/replay.err" | sed 's/^/#   /'
	return 1
}
check "the DSL fuzz target's replay keeps its invariants on every fixture" replay
finish
