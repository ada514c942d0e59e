#!/bin/sh
# The test runner: unit test programs, fuzz replays, then the end-to-end
# scripts, each printing "ok - ..." / "not ok - ..." lines.  Ends with
# "N passed, M failed".
#
# A program fails, whatever it printed, when it exits non-zero (reported
# with its real status), when it runs past TEST_TIMEOUT seconds, or when
# it skips ("ok - ... # SKIP": a missing prerequisite is a failure).  An
# end-to-end script must also print its plan ("1..N", see plan in
# tests/lib.sh) and run exactly that many checks, so that an early exit
# is a failure rather than a shorter success.
#
# The harness's own failures (tests/lib.sh cleanup) read "not ok - harness:
# ..." and are not part of the plan.
#
# Usage: tests/run.sh [PATTERN]   (BUILDS="build build-san")
set -u
cd "$(dirname "$0")/.."
BUILDS=${BUILDS:-${BUILD:-build}}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
pattern=${1:-}
out=$(mktemp -d)/test.out
pass=0 fail=0
SAN_PATTERN='ERROR: (Address|Leak)Sanitizer|runtime error: '

# failed NAME WHY: one failure that the program itself did not print
failed() {
	echo "[$1] not ok - $2"
	tail -20 "$out" | sed "s|^|[$1] #   |"
	fail=$((fail + 1))
}

# run_one NAME KIND COMMAND...: KIND "script" must print a plan
run_one() {
	name=$1 kind=$2
	shift 2
	timeout -k 10 "$TEST_TIMEOUT" "$@" > "$out" 2>&1 < /dev/null
	rc=$?
	grep -E '^(ok|not ok) - |^#' "$out" | sed "s|^|[$name] |"
	p=$(grep -E '^ok - ' "$out" | grep -cvE '# SKIP')
	s=$(grep -E '^ok - ' "$out" | grep -cE '# SKIP')
	f=$(grep -cE '^not ok - ' "$out")
	h=$(grep -cE '^not ok - harness: ' "$out")
	pass=$((pass + p))
	fail=$((fail + f))
	[ "$s" -eq 0 ] || failed "$name" "skips no check ($s skipped)"
	# a sanitizer report on its own output (a unit test, dify-admin)
	if [ "$f" -eq 0 ] && grep -qE "$SAN_PATTERN" "$out"; then
		failed "$name" "prints no sanitizer report"
		grep -m1 -A30 -E "$SAN_PATTERN" "$out" | sed "s|^|[$name] #   |"
	fi
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		failed "$name" "finishes within $TEST_TIMEOUT s (killed, exit status $rc)"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		failed "$name" "exits 0 (exit status $rc)"
	fi
	[ "$kind" = script ] || return 0
	# the harness's own checks after the script's (cleanup) are not planned
	planned=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$out" | head -1)
	ran=$((p + s + f - h))
	if [ -z "$planned" ]; then
		failed "$name" "declares its plan (no 1..N line)"
	elif [ "$ran" -ne "$planned" ]; then
		failed "$name" "runs the $planned checks it plans (ran $ran)"
	fi
}

for BUILD in $BUILDS; do
	export BUILD
	tag=""
	[ "$BUILD" = build ] || tag="$BUILD:"
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		case "$t" in *"$pattern"*) ;; *) continue ;; esac
		run_one "$tag$(basename "$t")" program "$t"
	done
	for t in "$BUILD"/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		case "$t" in *"$pattern"*) ;; *) continue ;; esac
		n=$(basename "$t")
		run_one "$tag$n" program "$t" "tests/fuzz/corpus/${n#fuzz_}"
	done
	for t in tests/e2e/[0-9]*.sh; do
		[ -f "$t" ] || continue
		case "$t" in *"$pattern"*) ;; *) continue ;; esac
		run_one "$tag$(basename "$t" .sh)" script bash "$t"
	done
done
# libFuzzer runs of every target, FUZZ_SECONDS each (make test in CI)
if [ -n "${FUZZ:-}" ] && [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
	TEST_TIMEOUT=$((TEST_TIMEOUT + FUZZ_SECONDS * $(echo $FUZZ | wc -w)))
	run_one fuzz program sh tools/fuzz.sh $FUZZ
fi
rm -rf "$(dirname "$out")"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
