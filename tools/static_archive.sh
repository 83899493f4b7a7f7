#!/bin/sh
# static_archive.sh LD OBJCOPY AR IN.a OUT.a: links the objects of IN.a into
# one relocatable object, makes its hidden symbols local (everything but the
# bp_ API, which the sources mark visible), and archives that object as OUT.a.
set -eu
ld=$1; objcopy=$2; ar=$3; in=$4; out=$5
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp_static_XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$ld" -r --whole-archive "$in" -o "$tmp/bitprune.o"
"$objcopy" --localize-hidden "$tmp/bitprune.o"
rm -f "$out"
"$ar" rcs "$out" "$tmp/bitprune.o"
