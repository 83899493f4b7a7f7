#!/bin/sh
# Checks that libbitprune exports only bp_ symbols and has a versioned SONAME.
# Usage: check_symbols.sh path/to/libbitprune.so
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '{print $NF}')
n=$(printf '%s\n' "$syms" | grep -c '^bp_' || true)
bad=$(printf '%s\n' "$syms" | grep -v '^bp_' || true)
echo "check_symbols: $n bp_ symbols exported"
if [ -n "$bad" ]; then
    echo "check_symbols: FAIL: non-bp_ symbols exported:"; printf '%s\n' "$bad"; exit 1
fi
[ "$n" -ge 20 ] || { echo "check_symbols: FAIL: expected >= 20 bp_ symbols"; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "libbitprune.so.0" ] || { echo "check_symbols: FAIL: SONAME '$soname'"; exit 1; }
echo "check_symbols: OK (SONAME $soname)"
