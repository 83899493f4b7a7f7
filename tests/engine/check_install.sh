#!/bin/sh
# Installs the project into a temporary destdir, builds engine/examples/classify.c
# and write_model.c against the INSTALLED libbitprune through pkg-config, and
# runs them (classify on a test model, write_model on the model it writes).
# Usage: check_install.sh BUILD_ROOT SOURCE_ROOT MAKE_TEST_MODEL SANITIZE
set -eu
build=$1; src=$2; mkmodel=$3; sanitize=$4
tmp=$(mktemp -d /tmp/bp_install_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name bitprune.pc | head -n 1)
[ -n "$pc" ] || { echo "check_install: FAIL: bitprune.pc not installed"; exit 1; }
hdr=$(find "$tmp/root" -name bitprune.h | head -n 1)
[ -n "$hdr" ] || { echo "check_install: FAIL: bitprune.h not installed"; exit 1; }
[ -f "$(dirname "$hdr")/bitprune_builder.h" ] ||
    { echo "check_install: FAIL: bitprune_builder.h not installed"; exit 1; }
so=$(find "$tmp/root" -name 'libbitprune.so.0' | head -n 1)
[ -n "$so" ] || { echo "check_install: FAIL: libbitprune.so.0 not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags=$(pkg-config --cflags --libs bitprune)
echo "check_install: pkg-config --cflags --libs bitprune -> $flags"
extra=""
if [ "$sanitize" != "none" ]; then extra="-fsanitize=$sanitize"; fi
cc -std=c11 -Wall -Wextra -Werror $extra "$src/engine/examples/classify.c" $flags -o "$tmp/classify"
"$mkmodel" "$tmp/model.bp" resnet 0.7
LD_LIBRARY_PATH="$(dirname "$so")" "$tmp/classify" "$tmp/model.bp" > "$tmp/out.txt"
cat "$tmp/out.txt"
grep -q "top-5" "$tmp/out.txt" && [ "$(grep -c 'class ' "$tmp/out.txt")" -eq 5 ] ||
    { echo "check_install: FAIL: classify output"; exit 1; }
# the binary must resolve libbitprune from the install, not the build tree
LD_LIBRARY_PATH="$(dirname "$so")" ldd "$tmp/classify" | grep libbitprune | grep -q "$tmp" ||
    { echo "check_install: FAIL: classify not linked to the installed library"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror $extra "$src/engine/examples/write_model.c" $flags \
    -o "$tmp/write_model"
LD_LIBRARY_PATH="$(dirname "$so")" "$tmp/write_model" "$tmp/written.bp" > "$tmp/wout.txt" ||
    { cat "$tmp/wout.txt"; echo "check_install: FAIL: write_model"; exit 1; }
grep -q "sum 1.0000" "$tmp/wout.txt" || { echo "check_install: FAIL: write_model output"; exit 1; }
echo "check_install: OK"
