#!/bin/sh
# Installs the build into a temporary prefix (meson install --destdir) and runs
# the Python binding's tests against the INSTALLED package and library: no
# BITPRUNE_LIBRARY, PYTHONPATH at the installed package, so the package must
# find the library it was installed with.
# Usage: run_installed.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/bp_pyinstall_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
init=$(find "$tmp/root" -path '*/bitprune/__init__.py' | head -n 1)
[ -n "$init" ] || { echo "run_installed: FAIL: bitprune package not installed"; exit 1; }
site=$(dirname "$(dirname "$init")")
# the tests from the source tree, the package and library from the install
cp -r "$src/python/tests" "$tmp/tests"
unset BITPRUNE_LIBRARY
export PYTHONPATH="$site" PYTHONDONTWRITEBYTECODE=1
export BITPRUNE_MAKE_TEST_MODEL="$build/tests/engine/make_test_model"
export BITPRUNE_SOURCE_ROOT="$src"
lib=$(/usr/bin/python3 -c 'import bitprune; print(bitprune.library_path)')
case "$lib" in
    "$tmp"/*) echo "run_installed: package $site, library $lib" ;;
    *) echo "run_installed: FAIL: the installed package loaded $lib, not the installed library"
       exit 1 ;;
esac
/usr/bin/python3 -m pytest -q -p no:cacheprovider "$tmp/tests"
