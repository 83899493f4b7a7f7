#!/bin/sh
# version_check.sh: the project version (meson.build) is the one version:
# bitprune.pc, bitprune.h's macros, bp_version_string() of the loaded library,
# `bptool --version` and `bpbench --version` all say it.
# Usage: version_check.sh VERSION BITPRUNE_PC VERSION_PRINT BPTOOL [BPBENCH]
set -u
want=$1; pc=$2; vprint=$3; bptool=$4; bpbench=${5:-}
fails=0
n=0
check() { # DESC GOT
    n=$((n + 1))
    if [ "$2" = "$want" ]; then echo "ok $n - $1: $2"
    else echo "not ok $n - $1: '$2', want '$want'"; fails=$((fails + 1)); fi
}
check "bitprune.pc Version" "$(sed -n 's/^Version: *//p' "$pc")"
out=$("$vprint")
check "bitprune.h BP_VERSION_MAJOR.MINOR.PATCH" "$(printf '%s\n' "$out" | sed -n 's/^header //p')"
check "bitprune.h BP_VERSION_STRING" "$(printf '%s\n' "$out" | sed -n 's/^header-string //p')"
check "bp_version_string()" "$(printf '%s\n' "$out" | sed -n 's/^library //p')"
# "bptool (bitprune 0.1.0)"
check "bptool --version" \
    "$("$bptool" --version | sed -n 's/^bptool (bitprune \([^)]*\))$/\1/p')"
if [ -n "$bpbench" ]; then
    # "bpbench 0.1.0 (commit ..., gcc ...)"
    check "bpbench --version" \
        "$("$bpbench" --version | sed -n 's/^bpbench \([^ ]*\) (commit .*/\1/p')"
fi
echo "1..$n"
[ "$fails" = 0 ]
