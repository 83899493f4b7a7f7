#!/bin/sh
# Installs the project into a temporary destdir, builds engine/examples/classify.c
# and write_model.c against the INSTALLED libbitprune through pkg-config,
# classify once with the shared and once with the static library
# (`pkg-config --static`), runs them (same output; write_model on the model it
# writes), and checks what else `meson install` puts there: the programs,
# their man pages, bitprune.pc's version.
# Usage: check_install.sh BUILD_ROOT SOURCE_ROOT MAKE_TEST_MODEL SANITIZE
set -eu
build=$1; src=$2; mkmodel=$3; sanitize=$4
tmp=$(mktemp -d /tmp/bp_install_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_install: FAIL: $*"; exit 1; }
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name bitprune.pc | head -n 1)
[ -n "$pc" ] || fail "bitprune.pc not installed"
hdr=$(find "$tmp/root" -name bitprune.h | head -n 1)
[ -n "$hdr" ] || fail "bitprune.h not installed"
[ -f "$(dirname "$hdr")/bitprune_version.h" ] || fail "bitprune_version.h not installed"
[ -f "$(dirname "$hdr")/bitprune_builder.h" ] || fail "bitprune_builder.h not installed"
so=$(find "$tmp/root" -name 'libbitprune.so.0' | head -n 1)
[ -n "$so" ] || fail "libbitprune.so.0 not installed"
ar=$(find "$tmp/root" -name 'libbitprune.a' | head -n 1)
[ "$(dirname "$ar")" = "$(dirname "$so")" ] || fail "libbitprune.a not installed next to the .so"
libdir=$(dirname "$so")

# libbitprune.a defines only bp_ symbols, like the shared library
nm_bad=$(nm -g --defined-only "$ar" | awk 'NF == 3 && $3 !~ /^bp_/ {print $3}')
[ -z "$nm_bad" ] || fail "libbitprune.a defines non-bp_ symbols: $(echo $nm_bad | head -c 400)"
n_a=$(nm -g --defined-only "$ar" | awk 'NF == 3' | wc -l)
n_so=$(nm -D --defined-only "$so" | awk 'NF == 3' | wc -l)
[ "$n_a" = "$n_so" ] || fail "libbitprune.a defines $n_a symbols, libbitprune.so $n_so"
echo "check_install: libbitprune.a defines the same $n_a bp_ symbols as libbitprune.so"

export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags=$(pkg-config --cflags --libs bitprune)
echo "check_install: pkg-config --cflags --libs bitprune -> $flags"
sflags=$(pkg-config --static --cflags --libs bitprune)
echo "check_install: pkg-config --static --cflags --libs bitprune -> $sflags"
extra=""
if [ "$sanitize" != "none" ]; then extra="-fsanitize=$sanitize"; fi
cc -std=c11 -Wall -Wextra -Werror $extra "$src/engine/examples/classify.c" $flags -o "$tmp/classify"
# the static library by name, everything else as pkg-config --static says
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror $extra "$src/engine/examples/classify.c" \
    $(printf '%s\n' "$sflags" | sed 's/-lbitprune\b/-l:libbitprune.a/') -o "$tmp/classify_static"
"$mkmodel" "$tmp/model.bp" resnet 0.7
LD_LIBRARY_PATH="$libdir" "$tmp/classify" "$tmp/model.bp" > "$tmp/out.txt"
cat "$tmp/out.txt"
grep -q "top-5" "$tmp/out.txt" && [ "$(grep -c 'class ' "$tmp/out.txt")" -eq 5 ] ||
    fail "classify output"
# the binary must resolve libbitprune from the install, not the build tree
LD_LIBRARY_PATH="$libdir" ldd "$tmp/classify" | grep libbitprune | grep -q "$tmp" ||
    fail "classify not linked to the installed library"
# the static one needs no libbitprune.so at all, and prints the same
if readelf -d "$tmp/classify_static" | grep NEEDED | grep -q libbitprune; then
    fail "classify_static needs libbitprune.so"
fi
"$tmp/classify_static" "$tmp/model.bp" > "$tmp/out_static.txt"
cmp -s "$tmp/out.txt" "$tmp/out_static.txt" ||
    { diff "$tmp/out.txt" "$tmp/out_static.txt" || true; fail "static and shared classify differ"; }
echo "check_install: classify linked statically gives the same output"
cc -std=c11 -Wall -Wextra -Werror $extra "$src/engine/examples/write_model.c" $flags \
    -o "$tmp/write_model"
LD_LIBRARY_PATH="$libdir" "$tmp/write_model" "$tmp/written.bp" > "$tmp/wout.txt" ||
    { cat "$tmp/wout.txt"; fail "write_model"; }
grep -q "sum 1.0000" "$tmp/wout.txt" || fail "write_model output"

# the programs and their man pages
ver=$(pkg-config --modversion bitprune)
mandir=$(find "$tmp/root" -type d -name man1 | head -n 1)
[ -n "$mandir" ] || fail "no man1 directory installed"
[ -f "$(dirname "$mandir")/man3/libbitprune.3" ] || fail "libbitprune.3 not installed"
for prog in bptool bpbench; do
    exe=$(find "$tmp/root" -path "*/bin/$prog" | head -n 1)
    if [ -z "$exe" ]; then
        # bpbench is optional (-Dbench); bptool is always built with the library
        [ "$prog" = bpbench ] && [ ! -x "$build/bench/bpbench/bpbench" ] && continue
        fail "$prog not installed"
    fi
    [ -f "$mandir/$prog.1" ] || fail "$prog.1 not installed"
    LD_LIBRARY_PATH="$libdir" "$exe" --version | grep -q "$ver" ||
        fail "installed $prog --version does not say $ver"
    echo "check_install: $prog and $prog.1 installed, version $ver"
done
echo "check_install: OK"
