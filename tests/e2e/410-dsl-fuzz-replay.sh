#!/bin/bash
# The DSL fuzz target's replay build ($(BUILD)/fuzz/fuzz_dsl, which make
# builds and make test runs over its seeds) keeps the reader's invariants
# on the 40 real DSL fixtures too: accepted or refused with problems, and
# every accepted file exports and imports again to the same app.
. "$(dirname "$0")/../lib.sh"
REPLAY="$BUILD_DIR/fuzz/fuzz_dsl"
if [ ! -x "$REPLAY" ]; then
	not_ok "the DSL fuzz target's replay build exists ($REPLAY)"
	finish
	exit
fi
"$REPLAY" "$FIXTURES" 2>"$T/replay.err" ||
    { not_ok "the replay over the fixtures exits 0"; head -20 "$T/replay.err" | sed 's/^/#   /'; }
finish
