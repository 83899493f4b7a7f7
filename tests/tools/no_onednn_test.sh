#!/bin/sh
# no_onednn_test.sh: bitprune built without oneDNN: bpbench skips the onednn
# rows with a note that says so and times the others; naming an onednn
# backend fails (exit 1) with a message that it was not built.
# Usage: no_onednn_test.sh BPTOOL BPBENCH
set -u
bptool=$1; bpbench=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; fails=$((fails + 1)); sed 's/^/#   /' "$T/out" | tail -n 20; }
has() { if grep -Eq -- "$2" "$T/out"; then ok "$1"; else notok "$1: /$2/ not found"; fi; }

"$bptool" gen resnet18-cifar --input 8x8 --prune bit --sparsity 0.5 -q -o "$T/m.bp" >"$T/out" 2>&1 ||
    notok "bptool gen"
"$bpbench" --model "$T/m.bp" --threads 1 --repeat 2 --warmup 0 --no-counts \
    --json "$T/b.json" >"$T/out" 2>&1
rc=$?
[ "$rc" = 0 ] && ok "bpbench (all backends) exits 0" || notok "bpbench (all backends) exit $rc"
has "onednn-int8 skipped, not built" "^onednn-int8 +skipped: .*'onednn-int8' was not built"
has "onednn-f32 skipped, not built" "^onednn-f32 +skipped: .*'onednn-f32' was not built"
has "the header notes it" "^oneDNN: not built"
has "bitplane is timed and bit-exact" "^bitplane .*bit-exact"
has "csr is timed and bit-exact" "^csr .*bit-exact"
if grep -q 'onednn-int8-capped' "$T/out"; then notok "no capped oneDNN child"; else ok "no capped oneDNN child"; fi
/usr/bin/python3 - "$T/b.json" >"$T/out" 2>&1 <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["machine"]["onednn_version"] is None and j["machine"]["onednn_isa"] is None, j["machine"]
rows = {b["name"]: b for b in j["sets"][0]["backends"]}
assert rows["onednn-int8"]["status"] == "skipped" and rows["onednn-f32"]["status"] == "skipped"
assert rows["bitplane"]["status"] == "ok"
assert j["config"]["onednn_cap"]["run"] is False
PY
[ $? = 0 ] && ok "JSON: oneDNN null, rows skipped" || notok "JSON: oneDNN null, rows skipped"
"$bpbench" --model "$T/m.bp" --backend bitplane,onednn-int8 --repeat 1 --warmup 0 \
    --no-counts >"$T/out" 2>&1
rc=$?
[ "$rc" = 1 ] && ok "--backend onednn-int8 exits 1" || notok "--backend onednn-int8 exit $rc, want 1"
has "it says onednn-int8 was not built" "onednn-int8.*was not built"
echo "1..$n"
[ "$fails" = 0 ]
