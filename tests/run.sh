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
# Passes: the end-to-end scripts run once per pass, a pass being a build
# and a storage backend ("build:sqlite", "build-san:postgresql"); the unit
# programs and fuzz replays run once per build, in its first pass.
# PASSES names them in order; without it they are every BUILD of BUILDS
# with every backend of BACKENDS (default "sqlite").
#
# A postgresql pass starts one throwaway cluster (tests/pg.sh) when its
# first script runs and stops it at the end of the pass, or when run.sh
# is interrupted; the scripts get PGHOST, PGPORT and
# DIFYCGI_TEST_BACKEND=postgresql, and tests/lib.sh gives each its own
# database.  Its lines read "[pg:NAME] ..." ("[build-san:pg:NAME] ...").
# A script with a line "# backends: sqlite" (a space-separated list) near
# its top runs only on those backends; elsewhere it prints one comment
# line "# [pg:NAME] sqlite only", neither passed nor failed.
#
# Lanes: PASSES may hold "|": each part is a lane, and the lanes run at
# once (a run.sh each), the first printing as it goes, the others when
# they end; the fuzz runs (FUZZ) go to the last lane.  Most of a pass is
# waiting on servers and streams, so two lanes on two cores take little
# more than the longer one: `make test` runs
# PASSES="build:sqlite build-san:sqlite | build-san:postgresql".
#
# Usage: tests/run.sh [PATTERN]   (BUILDS="build build-san",
#        BACKENDS="sqlite postgresql", or PASSES="build:postgresql")
set -u
cd "$(dirname "$0")/.."
case ${PASSES:-} in
*"|"*)
	lanes_dir=$(mktemp -d)
	trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$lanes_dir"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	rest=$PASSES n=0 fuzz=${FUZZ:-}
	while [ -n "$rest" ]; do
		lane=${rest%%|*}
		case $rest in *"|"*) rest=${rest#*|} ;; *) rest="" ;; esac
		n=$((n + 1))
		lf=""
		[ -n "$rest" ] || lf=$fuzz
		# each lane's length, for balancing them (a comment line)
		if [ $n = 1 ]; then
			(s0=$(date +%s); PASSES=$lane FUZZ=$lf sh "$0" "$@" 2>&1
			echo "# lane $n ($lane${lf:+, fuzz}): $(($(date +%s) - s0)) s") |
			    tee "$lanes_dir/$n.out" |
			    grep -v -E '^[0-9]+ passed, [0-9]+ failed$' &
		else
			(s0=$(date +%s); PASSES=$lane FUZZ=$lf sh "$0" "$@" 2>&1
			echo "# lane $n ($lane${lf:+, fuzz}): $(($(date +%s) - s0)) s") \
			    > "$lanes_dir/$n.out" &
		fi
	done
	wait
	p=0 f=0 i=1
	while [ $i -le $n ]; do
		[ $i = 1 ] || grep -v -E '^[0-9]+ passed, [0-9]+ failed$' \
		    "$lanes_dir/$i.out"
		last=$(grep -v '^# lane ' "$lanes_dir/$i.out" | tail -1)
		case $last in
		*" passed, "*" failed")
			p=$((p + ${last%% *}))
			last=${last#*, }
			f=$((f + ${last%% *})) ;;
		*)
			echo "[lane $i] not ok - ends with its counts (it ended: $last)"
			f=$((f + 1)) ;;
		esac
		i=$((i + 1))
	done
	echo "$p passed, $f failed"
	[ "$f" -eq 0 ]
	exit
	;;
esac
BUILDS=${BUILDS:-${BUILD:-build}}
BACKENDS=${BACKENDS:-sqlite}
passes=${PASSES:-}
if [ -z "$passes" ]; then
	for b in $BUILDS; do
		for k in $BACKENDS; do passes="$passes $b:$k"; done
	done
fi
# not for the scripts (tests/e2e/010-harness.sh runs a run.sh of its own)
unset PASSES BACKENDS
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
pattern=${1:-}
tmp=$(mktemp -d)
out=$tmp/test.out
pass=0 fail=0
child=""		# the program running now (its timeout)
pgdir=""		# the running cluster's directory, if any

# pg_start: this pass's cluster, once; 1 when it does not start
pg_start() {
	[ -z "$pgdir" ] || return 0
	pgdir=$(mktemp -d /tmp/difycgi-pg.XXXXXX)
	if ! sh tests/pg.sh start "$pgdir" > "$tmp/pg.env" 2> "$out"; then
		failed "${tag}pg.sh" "a PostgreSQL cluster starts (tests/pg.sh)"
		sh tests/pg.sh stop "$pgdir" || rm -rf "$pgdir"
		pgdir=""
		return 1
	fi
	. "$tmp/pg.env"
	export PGHOST PGPORT
}

pg_stop() {
	[ -n "$pgdir" ] || return 0
	sh tests/pg.sh stop "$pgdir" || rm -rf "$pgdir"
	pgdir=""
	unset PGHOST PGPORT
}

# on any exit: the program running is stopped (its own cleanup drops its
# database), then the cluster
on_exit() {
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null
		wait "$child" 2>/dev/null
	fi
	pg_stop
	rm -rf "$tmp"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
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
	# in the background, so that a signal to run.sh is handled at once
	timeout -k 10 "$TEST_TIMEOUT" "$@" > "$out" 2>&1 < /dev/null &
	child=$!
	wait "$child"
	rc=$?
	child=""
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

# backends_of SCRIPT: the backends its "# backends:" line names, or "all"
backends_of() {
	_b=$(sed -n '1,20s/^# backends: *//p' "$1" | head -1)
	echo "${_b:-all}"
}

done_builds=" "
for p in $passes; do
	BUILD=${p%%:*} backend=${p#*:}
	export BUILD
	tag=""
	[ "$BUILD" = build ] || tag="$BUILD:"
	case $done_builds in
	*" $BUILD "*) ;;
	*)
		done_builds="$done_builds$BUILD "
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
		;;
	esac
	case $backend in
	sqlite) ;;
	postgresql) tag="${tag}pg:" ;;
	*) failed "$tag$backend" "names a backend (sqlite or postgresql)"; continue ;;
	esac
	export DIFYCGI_TEST_BACKEND=$backend
	# the unit programs that check the database itself take a
	# DIFYCGI_DATABASE_URL: on PostgreSQL, a fresh database each
	if [ "$backend" = postgresql ]; then
		for t in "$BUILD"/tests/test_plans; do
			[ -x "$t" ] || continue
			case "$t" in *"$pattern"*) ;; *) continue ;; esac
			pg_start || break
			d="unit_$(basename "$t")_$$"
			createdb -h "$PGHOST" -p "$PGPORT" -U postgres "$d" || continue
			export DIFYCGI_DATABASE_URL="postgresql:///$d?host=$PGHOST&port=$PGPORT&user=postgres"
			export DIFYCGI_SECRET_KEY=unit-test-secret-of-the-pass
			run_one "$tag$(basename "$t")" program "$t"
			unset DIFYCGI_DATABASE_URL DIFYCGI_SECRET_KEY
			dropdb --force -h "$PGHOST" -p "$PGPORT" -U postgres "$d"
		done
	fi
	for t in tests/e2e/[0-9]*.sh; do
		[ -f "$t" ] || continue
		case "$t" in *"$pattern"*) ;; *) continue ;; esac
		n=$(basename "$t" .sh)
		b=$(backends_of "$t")
		case " $b " in
		" all "|*" $backend "*) ;;
		*) echo "# [$tag$n] $b only"; continue ;;
		esac
		if [ "$backend" = postgresql ]; then
			pg_start || break
		fi
		run_one "$tag$n" script bash "$t"
	done
	pg_stop
	unset DIFYCGI_TEST_BACKEND
done
# libFuzzer runs of every target, FUZZ_SECONDS each (make test in CI)
if [ -n "${FUZZ:-}" ] && [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
	TEST_TIMEOUT=$((TEST_TIMEOUT + FUZZ_SECONDS * $(echo $FUZZ | wc -w)))
	run_one fuzz program sh tools/fuzz.sh $FUZZ
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
