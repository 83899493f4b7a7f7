#!/usr/bin/env bash
# cli_test.sh: end-to-end checks of the bptool and bpbench command lines:
# gen -> verify -> info -> prune -> bench on a small model, clean errors on bad
# model files and inputs (exit 1), usage and exit 2 on bad flags.
# Usage: cli_test.sh BPTOOL BPBENCH
set -u
BPTOOL=$1
BPBENCH=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0

# expect CODE DESC CMD... : runs CMD, checks the exit code, keeps stdout/stderr.
expect() {
    local want=$1 desc=$2
    shift 2
    n=$((n + 1))
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "not ok $n - $desc: exit $got, want $want"
        sed 's/^/#   stdout: /' "$T/out" | tail -n 5
        sed 's/^/#   stderr: /' "$T/err" | tail -n 5
        fails=$((fails + 1))
        return 1
    fi
    echo "ok $n - $desc"
}
# grep_in FILE PATTERN DESC
grep_in() {
    n=$((n + 1))
    if grep -q -- "$2" "$1"; then
        echo "ok $n - $3"
    else
        echo "not ok $n - $3: '$2' not in $(basename "$1")"
        sed 's/^/#   /' "$1" | tail -n 5
        fails=$((fails + 1))
    fi
}

# ---- help ----
expect 0 "bptool --help" "$BPTOOL" --help
grep_in "$T/out" "usage: bptool" "bptool --help prints usage"
for c in gen info verify prune; do
    expect 0 "bptool $c --help" "$BPTOOL" "$c" --help
    grep_in "$T/out" "usage: bptool $c" "bptool $c --help prints its usage"
done
expect 0 "bpbench --help" "$BPBENCH" --help
grep_in "$T/out" "usage: bpbench" "bpbench --help prints usage"

# ---- gen -> verify -> info -> prune -> bench ----
M=$T/m.bp
expect 0 "gen resnet18-cifar 16x16 bit-pruned" "$BPTOOL" gen resnet18-cifar --input 16x16 \
    --prune bit --lambda 1 --sparsity 0.5 --calib 1 --seed 3 -o "$M"
grep_in "$T/out" "sparsity 0.5" "gen summary states the sparsity"
expect 0 "verify good model" "$BPTOOL" verify "$M"
grep_in "$T/out" "^OK " "verify prints OK"
expect 0 "info" "$BPTOOL" info "$M" --svg "$T/h.svg"
grep_in "$T/out" "layer1.0.conv1" "info lists layers"
grep_in "$T/out" "weight histogram" "info draws the histogram"
grep_in "$T/h.svg" "<svg" "info --svg writes an SVG"
expect 0 "info --layer by name" "$BPTOOL" info "$M" --layer layer3.0.conv2 --no-hist
expect 1 "info --layer unknown" "$BPTOOL" info "$M" --layer nosuch
# re-pruning at the generation's lambda and sparsity changes nothing (the
# proximal map is a projection, the sparsity is already reached)
expect 0 "info before re-pruning" "$BPTOOL" info "$M" --no-hist
before=$(grep ' total ' "$T/out" | tr -s ' ')
expect 0 "prune at the same lambda and sparsity" "$BPTOOL" prune "$M" --lambda 1 \
    --sparsity 0.5 -o "$T/same.bp"
expect 0 "info after re-pruning" "$BPTOOL" info "$T/same.bp" --no-hist
n=$((n + 1))
after=$(grep ' total ' "$T/out" | tr -s ' ')
if [ -n "$before" ] && [ "$before" = "$after" ]; then
    echo "ok $n - re-pruning keeps every count:$after"
else
    echo "not ok $n - re-pruning changed the totals: '$before' -> '$after'"
    fails=$((fails + 1))
fi
expect 0 "prune to csd at sparsity 0.8" "$BPTOOL" prune "$M" --sparsity 0.8 --encoding csd \
    -o "$T/m2.bp"
expect 0 "verify pruned model" "$BPTOOL" verify "$T/m2.bp"
grep_in "$T/out" "sparsity 0.8" "pruned model has the new sparsity"
expect 0 "bpbench small model" "$BPBENCH" --model "$M" --iters 2 --warmup 0 --threads 1 \
    --layers --json "$T/b.json"
grep_in "$T/out" "bit-exact" "bpbench reports agreement"
grep_in "$T/out" "add-shift-add CSD (w,x)" "bpbench reports op counts"
grep_in "$T/out" "ASIC 45nm FIX8" "bpbench reports energy"
grep_in "$T/b.json" '"ok": true' "bpbench JSON says ok"
grep_in "$T/b.json" '"energy_uj_per_image"' "bpbench JSON has energy"
expect 0 "bpbench --json - to stdout" "$BPBENCH" --model "$T/m2.bp" --backend bitplane,csr \
    --iters 1 --warmup 0 --no-counts --json -
grep_in "$T/out" '"speedups"' "JSON on stdout"

# ---- inputs ----
python_npy() { # DTYPE FILE: writes a (1,3,16,16) .npy header + zero data
    local hdr="{'descr': '$1', 'fortran_order': False, 'shape': (1, 3, 16, 16), }"
    while [ $(( (10 + ${#hdr} + 1) % 64 )) -ne 0 ]; do hdr="$hdr "; done
    hdr="$hdr"$'\n'
    local len=${#hdr}
    { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((len & 255)))\\x$(printf %02x $((len >> 8)))"
      printf '%s' "$hdr"; head -c $((3 * 16 * 16 * 4)) /dev/zero; } >"$2"
}
python_npy '<f4' "$T/in.npy"
expect 0 "bpbench --input .npy" "$BPBENCH" --model "$M" --backend bitplane --iters 1 \
    --warmup 0 --no-counts --input "$T/in.npy"
python_npy '<f8' "$T/bad.npy"
expect 1 "bpbench --input with dtype <f8" "$BPBENCH" --model "$M" --no-counts --input "$T/bad.npy"
grep_in "$T/err" "<f4" "npy dtype error names the dtype"
head -c 100 /dev/zero >"$T/short.raw"
expect 1 "bpbench --input raw of wrong size" "$BPBENCH" --model "$M" --input "$T/short.raw"
grep_in "$T/err" "bytes" "raw size error says why"

# ---- bad model files: exit 1 and a message ----
head -c 1000 "$M" >"$T/trunc.bp"
expect 1 "verify truncated model" "$BPTOOL" verify "$T/trunc.bp"
grep_in "$T/err" "BP_ERR" "verify names the status"
cp "$M" "$T/flip.bp"
size=$(stat -c %s "$T/flip.bp")
printf '\xa5' | dd of="$T/flip.bp" bs=1 seek=$((size / 2)) conv=notrunc status=none
expect 1 "verify corrupted model" "$BPTOOL" verify "$T/flip.bp"
grep_in "$T/err" "BP_ERR" "corruption is reported with a status"
expect 1 "verify missing file" "$BPTOOL" verify "$T/nosuch.bp"
expect 1 "info truncated model" "$BPTOOL" info "$T/trunc.bp"
expect 1 "prune truncated model" "$BPTOOL" prune "$T/trunc.bp" -o "$T/x.bp"
expect 1 "bpbench truncated model" "$BPBENCH" --model "$T/trunc.bp"
grep_in "$T/err" "bpbench: " "bpbench names the failure"
printf 'not a model' >"$T/text.bp"
expect 1 "bpbench text file" "$BPBENCH" --model "$T/text.bp"

# ---- bad flags: usage on stderr, exit 2 ----
expect 2 "bptool without command" "$BPTOOL"
expect 2 "bptool unknown command" "$BPTOOL" frobnicate
expect 2 "gen unknown flag" "$BPTOOL" gen resnet18-cifar --bogus -o "$T/x.bp"
grep_in "$T/err" "usage: bptool gen" "gen prints usage on a bad flag"
expect 2 "gen without -o" "$BPTOOL" gen resnet18-cifar
expect 2 "gen unknown arch" "$BPTOOL" gen vgg16 -o "$T/x.bp"
expect 2 "gen --sparsity 1.5" "$BPTOOL" gen resnet18-cifar --prune bit --sparsity 1.5 -o "$T/x.bp"
expect 2 "gen --sparsity without --prune" "$BPTOOL" gen resnet18-cifar --sparsity 0.5 -o "$T/x.bp"
expect 2 "gen --prune bogus" "$BPTOOL" gen resnet18-cifar --prune half -o "$T/x.bp"
expect 2 "gen --input bad" "$BPTOOL" gen resnet18-cifar --input 0x3 -o "$T/x.bp"
expect 2 "gen --input too small" "$BPTOOL" gen convnext-t --input 8x8 -o "$T/x.bp"
grep_in "$T/err" "smallest square: 32x32" "gen names the smallest input convnext-t accepts"
expect 2 "gen --lambda missing value" "$BPTOOL" gen resnet18-cifar -o "$T/x.bp" --lambda
expect 2 "info without file" "$BPTOOL" info
expect 2 "verify extra argument" "$BPTOOL" verify "$M" extra
expect 2 "prune without -o" "$BPTOOL" prune "$M"
expect 2 "bpbench without --model" "$BPBENCH"
grep_in "$T/err" "usage: bpbench" "bpbench prints usage"
expect 2 "bpbench --iters 0" "$BPBENCH" --model "$M" --iters 0
expect 2 "bpbench unknown backend" "$BPBENCH" --model "$M" --backend gpu
expect 2 "bpbench unknown flag" "$BPBENCH" --model "$M" --fast
expect 2 "bpbench --isa bogus" "$BPBENCH" --model "$M" --isa sse9

echo "# $((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
