#!/bin/bash
# The layout check (tools/check-layers.sh, run by every build) passes on
# the tree and fails, naming the file, on each kind of violation planted
# in a copy: a lower layer including a higher one, peers including each
# other, a private header of another folder, a program including a
# private header, a file left at the top of lib/, a folder without a door.
. "$(dirname "$0")/../lib.sh"
plan 8

check "the tree has the shape it claims" sh "$ROOT/tools/check-layers.sh" "$ROOT"

# plant NAME FILE LINE: a copy of the tree with LINE added to FILE;
# the check must fail and name FILE
plant() {
	_c=$T/copy-$1
	mkdir -p "$_c"
	cp -r "$ROOT/lib" "$ROOT/cgi-bin" "$ROOT/tools" "$_c/"
	mkdir -p "$_c/tests"
	cp -r "$ROOT/tests/unit" "$ROOT/tests/fuzz" "$ROOT/tests/bench" "$_c/tests/"
	[ -n "$3" ] && printf '%s\n' "$3" >> "$_c/$2"
	sh "$ROOT/tools/check-layers.sh" "$_c" > "$T/$1.out" 2>&1
	_rc=$?
	sed 's/^/#   /' "$T/$1.out"
	[ $_rc -ne 0 ] && grep -qF "$2" "$T/$1.out"
}

check "the store including the app layer fails" \
    plant up lib/store/db.c '#include "app/app.h"'
check "the workflow engine including its peer lib/app/ fails" \
    plant peer lib/workflow/wf_run.c '#include "app/app.h"'
echo '/* private */' > "$T/private.h"
plant_private() {
	_c=$T/copy-private
	mkdir -p "$_c"
	cp -r "$ROOT/lib" "$ROOT/cgi-bin" "$ROOT/tools" "$_c/"
	cp "$T/private.h" "$_c/lib/http/private.h"
	printf '#include "%s"\n' "$2" >> "$_c/$1"
	sh "$ROOT/tools/check-layers.sh" "$_c" > "$T/private.out" 2>&1
	_rc=$?
	sed 's/^/#   /' "$T/private.out"
	[ $_rc -ne 0 ] && grep -qF "$1: includes $2, a private file" "$T/private.out"
}
check "a folder including another folder's private header fails" \
    plant_private lib/workflow/wf_run.c http/private.h
check "a program including a private header fails" \
    plant_private cgi-bin/app.c http/private.h
check "a file at the top of lib/ fails" plant top lib/stray.c "int stray;"
mkdir -p "$T/copy-nodoor"
check "a folder without its door fails" bash -c "
    cp -r '$ROOT/lib' '$ROOT/cgi-bin' '$ROOT/tools' '$T/copy-nodoor/' &&
    mkdir '$T/copy-nodoor/lib/extra' && touch '$T/copy-nodoor/lib/extra/x.c' &&
    ! sh '$ROOT/tools/check-layers.sh' '$T/copy-nodoor' > '$T/nodoor.out' 2>&1 &&
    grep -q 'lib/extra' '$T/nodoor.out'"
check "the build runs the check" grep -q '^all: deps-check layers' "$ROOT/Makefile"
finish
