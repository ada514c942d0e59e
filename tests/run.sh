#!/bin/sh
# The test runner: unit test programs, then the end-to-end scripts, each
# printing "ok - ..." / "not ok - ..." lines.  Ends with "N passed, M failed".
# Usage: tests/run.sh [PATTERN]   (BUILD=build or build-san)
set -u
cd "$(dirname "$0")/.."
BUILDS=${BUILDS:-${BUILD:-build}}
pattern=${1:-}
log=$(mktemp -d)/tests.log
pass=0 fail=0

run_one() {
	name=$1; shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" > "$log.last"
	printf '%s\n' "$out" | grep -E '^(ok|not ok) - ' | sed "s|^|[$name] |"
	printf '%s\n' "$out" | grep -E '^#' | sed "s|^|[$name] |"
	p=$(printf '%s\n' "$out" | grep -cE '^ok - ')
	f=$(printf '%s\n' "$out" | grep -cE '^not ok - ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "[$name] not ok - exits 0 (exit status $rc)"
		printf '%s\n' "$out" | tail -20 | sed "s|^|[$name] #   |"
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
}

for BUILD in $BUILDS; do
	export BUILD
	tag=""
	[ "$BUILD" = build ] || tag="$BUILD:"
	for t in "$BUILD"/tests/test_*; do
		[ -x "$t" ] || continue
		case "$t" in *"$pattern"*) ;; *) continue ;; esac
		run_one "$tag$(basename "$t")" "$t"
	done
	for t in "$BUILD"/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		case "$t" in *"$pattern"*) ;; *) continue ;; esac
		n=$(basename "$t")
		run_one "$tag$n" "$t" "tests/fuzz/corpus/${n#fuzz_}"
	done
	for t in tests/e2e/[0-9]*.sh; do
		[ -f "$t" ] || continue
		case "$t" in *"$pattern"*) ;; *) continue ;; esac
		run_one "$tag$(basename "$t" .sh)" bash "$t"
	done
done
# libFuzzer runs of every target, FUZZ_SECONDS each (make test in CI)
if [ -n "${FUZZ:-}" ] && [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
	run_one fuzz sh tools/fuzz.sh $FUZZ
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
