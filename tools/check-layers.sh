#!/bin/sh
# check-layers.sh [ROOT]: the shape of lib/ (README, Layout).  Every part
# of the library is a folder lib/NAME/ whose header lib/NAME/NAME.h is its
# only door; a folder includes its own files, and of the others only the
# doors of lower layers.  Programs (cgi-bin/, tools/) and tests include
# doors only (tests may include a lib/ source file, to test its statics).
# Prints each violation and exits 1 when there is any.
set -u
root=${1:-.}
cd "$root" || exit 2

# the layers, lowest first; folders of one layer do not include each other
rank() {
	case $1 in
	core) echo 0 ;;
	store) echo 1 ;;
	http) echo 2 ;;
	model) echo 3 ;;
	files|template|sandbox) echo 4 ;;
	tool|task|knowledge) echo 5 ;;
	app|workflow) echo 6 ;;
	chatflow|dsl) echo 7 ;;
	*) echo "" ;;
	esac
}

bad=0
say() {
	echo "layers: $*"
	bad=1
}

for f in lib/*.c lib/*.h; do
	[ -e "$f" ] && say "$f: lib/ holds folders only"
done
for d in lib/*/; do
	d=${d%/}
	n=${d#lib/}
	[ -n "$(rank "$n")" ] || say "$d: a folder the layer table does not name"
	[ -f "$d/$n.h" ] || say "$d: no door $d/$n.h"
done

# includes FILE: the quoted includes of a file, one per line
includes() {
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

for f in lib/*/*.c lib/*/*.h; do
	[ -e "$f" ] || continue
	own=$(basename "$(dirname "$f")")
	r=$(rank "$own")
	for inc in $(includes "$f"); do
		case $inc in
		*/*/*|../*|*/../*)
			say "$f: includes $inc (a path outside the folder doors)" ;;
		*/*)
			g=${inc%%/*} h=${inc#*/}
			gr=$(rank "$g")
			if [ -z "$gr" ] || [ ! -f "lib/$inc" ]; then
				say "$f: includes $inc, which is no part of lib/"
			elif [ "$g" = "$own" ]; then
				[ "$h" = "$g.h" ] ||
				    say "$f: includes its own $h as $inc (write \"$h\")"
			elif [ "$h" != "$g.h" ]; then
				say "$f: includes $inc, a private file of lib/$g/ (its door is $g/$g.h)"
			elif [ "$gr" -ge "$r" ]; then
				say "$f: includes $inc, but $g (layer $gr) is not below $own (layer $r)"
			fi ;;
		*)
			[ -f "$(dirname "$f")/$inc" ] ||
			    say "$f: includes \"$inc\", which is not in its folder" ;;
		esac
	done
done

for f in cgi-bin/*.c tools/*.c tests/unit/*.c tests/unit/*.h tests/fuzz/*.c \
    tests/bench/*.c; do
	[ -e "$f" ] || continue
	for inc in $(includes "$f"); do
		case $inc in
		../../lib/*/*.c)
			case $f in tests/*) ;; *)
				say "$f: includes $inc, a source file" ;; esac ;;
		*/*)
			g=${inc%%/*} h=${inc#*/}
			if [ -n "$(rank "$g")" ] && [ "$h" != "$g.h" ]; then
				say "$f: includes $inc, a private file of lib/$g/"
			fi ;;
		api.h)
			say "$f: includes api.h (include the doors it uses)" ;;
		esac
	done
done
exit $bad
