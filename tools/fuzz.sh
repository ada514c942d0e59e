#!/bin/sh
# Build each libFuzzer target against build-fuzz/libdify.a and run it for
# FUZZ_SECONDS on a copy of its seed corpus (tests/fuzz/corpus/<name>).
# Prints "ok - ..." / "not ok - ..." per target, with executions and the
# corpus size; a crash leaves its input in build-fuzz/crashes/<name>/.
#   tools/fuzz.sh fuzz_request fuzz_dsl ...
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
# the Makefile's PKGS: what libdify.a links against
PKGS="fcgi json-c sqlite3 libpq libcurl yaml-0.1 duktape libcrypto libxml-2.0 poppler-glib libzip"
mkdir -p build-fuzz/bin build-fuzz/crashes
fail=0
for t in "$@"; do
	name=${t#fuzz_}
	bin=build-fuzz/bin/$t
	if ! clang -g -O1 -std=c11 -D_GNU_SOURCE -Ilib \
	    -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer \
	    $(pkg-config --cflags $PKGS) -o "$bin" "tests/fuzz/$t.c" \
	    build-fuzz/libdify.a $(pkg-config --libs $PKGS) -lpthread -lm \
	    2> "build-fuzz/$t.build.log"; then
		echo "not ok - $t builds with libFuzzer"
		sed 's/^/#   /' "build-fuzz/$t.build.log" | head -20
		fail=1
		continue
	fi
	corpus=build-fuzz/corpus/$name
	mkdir -p "$corpus" "build-fuzz/crashes/$name"
	[ -d "tests/fuzz/corpus/$name" ] && cp -n tests/fuzz/corpus/$name/* "$corpus"/ 2>/dev/null
	log=build-fuzz/$t.log
	ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$secs" \
	    -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="build-fuzz/crashes/$name/" "$corpus" > "$log" 2>&1
	rc=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
	n=$(ls "$corpus" | wc -l)
	if [ $rc -eq 0 ]; then
		echo "ok - $t runs ${secs}s without a finding (${execs:-?} executions, corpus $n)"
	else
		echo "not ok - $t runs ${secs}s without a finding"
		grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/#   /'
		fail=1
	fi
done
exit $fail
