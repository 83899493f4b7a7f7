#!/usr/bin/env bash
# cli_test.sh: end-to-end checks of the bptool and bpbench command lines:
# gen -> verify -> info -> prune -> bench on a small model, atomic output
# (full disk, devices, FIFOs, directories, read-only directories), regular
# input files only, clean errors on bad model files and inputs (exit 1),
# usage and exit 2 on bad flags, and the edge-case files in DATA.
# Usage: cli_test.sh BPTOOL BPBENCH DATA
set -u
BPTOOL=$1
BPBENCH=$2
DATA=$3
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
TAP_DIR=$T
. "$(dirname "$0")/../tap.sh"

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
# the default weight range [-127, 127] is exact on every integer backend
n=$((n + 1))
int8=$(grep '^onednn-int8 ' "$T/out")
case "$int8" in
    *bit-exact*|*skipped*) echo "ok $n - onednn-int8 on a default model: ${int8##* }" ;;
    *) echo "not ok $n - onednn-int8 on a default model is not bit-exact: $int8"
       fails=$((fails + 1)) ;;
esac
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
grep_in "$T/err" "100 bytes" "raw size error names the actual size"
grep_in "$T/err" "$((3 * 16 * 16 * 4)) bytes" "raw size error names the expected size"
expect 1 "bpbench --input /dev/zero" timeout 60 "$BPBENCH" --model "$M" --input /dev/zero
grep_in "$T/err" "regular file" "a device is not an input"
mkfifo "$T/in.fifo"
expect 1 "bpbench --input FIFO (no hang)" timeout 60 "$BPBENCH" --model "$M" --input "$T/in.fifo"
grep_in "$T/err" "FIFO" "a FIFO is not an input"
expect 1 "bpbench --input directory" "$BPBENCH" --model "$M" --input "$T"
grep_in "$T/err" "directory" "a directory is not an input"
# model paths: regular files only, a FIFO is refused without waiting
for c in verify info; do
    expect 1 "$c FIFO model (no hang)" timeout 60 "$BPTOOL" "$c" "$T/in.fifo"
done
expect 1 "prune FIFO model (no hang)" timeout 60 "$BPTOOL" prune "$T/in.fifo" -o "$T/x.bp"
expect 1 "bpbench FIFO model (no hang)" timeout 60 "$BPBENCH" --model "$T/in.fifo"
expect 1 "verify /dev/zero" timeout 60 "$BPTOOL" verify /dev/zero

# ---- atomic output: every written file ----
W=$T/w
mkdir "$W"
# no_temp DESC: nothing but the expected files in $W (no temporary file left)
no_temp() {
    n=$((n + 1))
    local left
    left=$(find "$W" -mindepth 1 -maxdepth 1 -name '.*' | head -n 3)
    if [ -z "$left" ]; then
        echo "ok $n - $1: no temporary file left"
    else
        echo "not ok $n - $1: left $left"
        fails=$((fails + 1))
    fi
}
# same FILE COPY DESC: FILE is byte for byte COPY
same() {
    n=$((n + 1))
    if cmp -s "$1" "$2"; then
        echo "ok $n - $3"
    else
        echo "not ok $n - $3: $1 changed"
        fails=$((fails + 1))
    fi
}
# limited KB CODE DESC CMD...: expect, with a file size limit of KB KiB and
# SIGXFSZ ignored (a full disk); stdout goes to /dev/null (not limited)
limited() {
    local kb=$1
    shift
    expect "$1" "$2" bash -c 'ulimit -f "$0"; trap "" XFSZ; exec "$@" >/dev/null' "$kb" "${@:3}"
}
cp "$M" "$W/g.bp"
cp "$M" "$W/keep.bp"
limited 1024 1 "gen over a model, disk full" "$BPTOOL" gen resnet18-cifar --input 16x16 \
    --calib 1 --seed 4 -o "$W/g.bp"
grep_in "$T/err" "the file was not changed" "gen says the old model is kept"
same "$W/g.bp" "$W/keep.bp" "gen, disk full: the old model is intact"
no_temp "gen, disk full"
limited 1024 1 "prune over a model, disk full" "$BPTOOL" prune "$M" --sparsity 0.9 -o "$W/g.bp"
same "$W/g.bp" "$W/keep.bp" "prune, disk full: the old model is intact"
no_temp "prune, disk full"
printf '<svg/>\n' >"$W/h.svg"
cp "$W/h.svg" "$W/keep.svg"
limited 1 1 "info --svg over an SVG, disk full" "$BPTOOL" info "$M" --svg "$W/h.svg"
same "$W/h.svg" "$W/keep.svg" "info --svg, disk full: the old SVG is intact"
no_temp "info --svg, disk full"
printf '{"old": true}\n' >"$W/b.json"
cp "$W/b.json" "$W/keep.json"
limited 1 1 "bpbench --json over a JSON file, disk full" "$BPBENCH" --model "$M" \
    --backend bitplane --iters 1 --warmup 0 --no-counts --json "$W/b.json"
same "$W/b.json" "$W/keep.json" "bpbench --json, disk full: the old JSON is intact"
no_temp "bpbench --json, disk full"
# the same with SIGXFSZ at its default action (kill): the programs ignore it
# themselves, so the write fails cleanly instead of killing them mid-way
for prog in bptool bpbench; do
    if [ $prog = bptool ]; then
        cmd=("$BPTOOL" prune "$M" --sparsity 0.9 -o "$W/g.bp"); f="$W/g.bp"; k="$W/keep.bp"
    else
        cmd=("$BPBENCH" --model "$M" --backend bitplane --iters 1 --warmup 0 --no-counts
            --json "$W/b.json"); f="$W/b.json"; k="$W/keep.json"
    fi
    expect 1 "$prog, file size limit with SIGXFSZ not ignored" \
        bash -c 'ulimit -f 1; trap - XFSZ; exec "$@" >/dev/null' limit "${cmd[@]}"
    same "$f" "$k" "$prog, SIGXFSZ default: the old file is intact"
    no_temp "$prog, SIGXFSZ default"
done
# a successful write replaces the file, leaves nothing else
expect 0 "prune over an existing model" "$BPTOOL" prune "$M" --sparsity 0.9 -q -o "$W/g.bp"
expect 0 "verify the replaced model" "$BPTOOL" verify "$W/g.bp"
no_temp "prune"
# destinations that are not regular files: refused before any work, untouched
null_before=$(stat -c '%F %t:%T' /dev/null)
mkfifo "$W/out.fifo"
for dst in /dev/null "$W/out.fifo" "$W"; do
    what=$(stat -c %F "$dst")
    expect 1 "gen -o $what" timeout 60 "$BPTOOL" gen resnet18-cifar -o "$dst"
    grep_in "$T/err" "not a regular file" "gen names why ($what)"
    expect 1 "prune -o $what" timeout 60 "$BPTOOL" prune "$M" -o "$dst"
    expect 1 "info --svg $what" timeout 60 "$BPTOOL" info "$M" --svg "$dst"
    expect 1 "bpbench --json $what" timeout 60 "$BPBENCH" --model "$M" --iters 1 --json "$dst"
    grep_in "$T/err" "not a regular file" "bpbench names why ($what)"
    expect 1 "bpbench --plot-layers $what" timeout 60 "$BPBENCH" --model "$M" --iters 1 \
        --layers --plot-layers "$dst"
    grep_in "$T/err" "not a regular file" "bpbench --plot-layers names why ($what)"
done
n=$((n + 1))
if [ "$(stat -c '%F %t:%T' /dev/null)" = "$null_before" ]; then
    echo "ok $n - /dev/null is still the same device"
else
    echo "not ok $n - /dev/null changed: $(stat -c '%F %t:%T' /dev/null)"
    fails=$((fails + 1))
fi
n=$((n + 1))
if [ -p "$W/out.fifo" ]; then
    echo "ok $n - the FIFO is still there"
else
    echo "not ok $n - the FIFO is gone"
    fails=$((fails + 1))
fi
# a read-only directory (a privileged user drops its override capabilities)
RO=$T/ro
mkdir "$RO"
cp "$M" "$RO/m.bp"
chmod 555 "$RO"
run_ro=(bash)
if [ "$(id -u)" = 0 ] && command -v capsh >/dev/null; then
    run_ro=(capsh --drop=cap_dac_override,cap_dac_read_search --)
fi
n=$((n + 1))
if "${run_ro[@]}" -c 'touch "$0/probe"' "$RO" 2>/dev/null; then
    echo "ok $n - # SKIP read-only directory: permissions do not apply here"
    rm -f "$RO/probe"
else
    echo "ok $n - the read-only directory refuses new files"
    expect 1 "prune into a read-only directory" "${run_ro[@]}" -c 'exec "$@"' _ "$BPTOOL" \
        prune "$M" --sparsity 0.9 -o "$RO/m.bp"
    grep_in "$T/err" "Permission denied" "prune says why"
    same "$RO/m.bp" "$M" "the model in the read-only directory is intact"
    expect 1 "info --svg into a read-only directory" "${run_ro[@]}" -c 'exec "$@"' _ \
        "$BPTOOL" info "$M" --svg "$RO/h.svg"
    n=$((n + 1))
    if [ "$(ls -A "$RO")" = "m.bp" ]; then
        echo "ok $n - nothing was added to the read-only directory"
    else
        echo "not ok $n - the read-only directory holds: $(ls -A "$RO" | tr '\n' ' ')"
        fails=$((fails + 1))
    fi
fi
chmod 755 "$RO"

# ---- weight range ----
expect 0 "info of a default model" "$BPTOOL" info "$M" --no-hist
grep_in "$T/out" "weights in \[-127,127\]" "a default model states the range [-127,127]"
expect 2 "gen --wmax 100" "$BPTOOL" gen resnet18-cifar --wmax 100 -o "$T/x.bp"
grep_in "$T/err" "127, 128 or 255" "gen names the ranges it offers"
expect 0 "gen --wmax 128" "$BPTOOL" gen resnet18-cifar --input 16x16 --calib 1 --wmax 128 \
    --prune bit -q -o "$T/w128.bp"
expect 0 "info of a --wmax 128 model" "$BPTOOL" info "$T/w128.bp" --no-hist
grep_in "$T/out" "weights in \[-128,128\]" "--wmax 128 is stated in the metadata"
grep_in "$T/out" "argmin over the integers in \[-128,128\]" "the proximal map's range too"

# ---- a valid model whose only layer is all zero ----
Z=$DATA/prune_wmax0.bp
expect 0 "verify all-zero layer" "$BPTOOL" verify "$Z"
expect 0 "info all-zero layer" "$BPTOOL" info "$Z"
n=$((n + 1))
if grep -qiwE 'nan|inf' "$T/out"; then
    echo "not ok $n - info prints NaN/inf: $(grep -iwE 'nan|inf' "$T/out" | head -n 1)"
    fails=$((fails + 1))
else
    echo "ok $n - info prints no NaN for an all-zero layer"
fi
expect 0 "prune all-zero layer" "$BPTOOL" prune "$Z" -o "$T/z.bp"
expect 0 "verify pruned all-zero layer" "$BPTOOL" verify "$T/z.bp"
expect 0 "prune all-zero layer by weight" "$BPTOOL" prune "$Z" --prune weight --sparsity 0.5 \
    --encoding csd -o "$T/z2.bp"
expect 0 "verify it" "$BPTOOL" verify "$T/z2.bp"

# ---- verify: exit 3 is a valid file the engine cannot run ----
expect 0 "verify --help" "$BPTOOL" verify --help
grep_in "$T/out" "3  a valid .bp file the engine cannot run" "verify --help documents exit 3"

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
grep_in "$T/err" "try 'bptool gen --help'" "gen points to --help on a bad flag"
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

# ---- CLI conventions ----
# one_line DESC: the last command's stderr is the error line plus the --help hint.
one_line() {
    n=$((n + 1))
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$lines" -eq 2 ] && grep -q "^try 'bptool.*--help'$" "$T/err"; then
        echo "ok $n - $1: one line and a --help hint"
    else
        echo "not ok $n - $1: stderr has $lines lines"
        sed 's/^/#   /' "$T/err" | head -n 5
        fails=$((fails + 1))
    fi
}
expect 2 "bptool without command (short)" "$BPTOOL"; one_line "bptool without command"
expect 2 "bptool unknown command (short)" "$BPTOOL" frobnicate; one_line "bptool unknown command"
expect 2 "gen bad flag (short)" "$BPTOOL" gen resnet18-cifar --bogus -o "$T/x.bp"
one_line "gen bad flag"
expect 2 "gen bad value (short)" "$BPTOOL" gen resnet18-cifar --seed x -o "$T/x.bp"
one_line "gen bad value"
expect 2 "info bad flag (short)" "$BPTOOL" info --bogus "$M"; one_line "info bad flag"
expect 2 "verify bad flag (short)" "$BPTOOL" verify --bogus "$M"; one_line "verify bad flag"
expect 2 "prune bad flag (short)" "$BPTOOL" prune "$M" -o "$T/x.bp" --seed 3
one_line "prune flag of gen only"
expect 0 "bptool --version" "$BPTOOL" --version
grep_in "$T/out" "^bptool (bitprune [0-9][0-9.]*" "--version names the library version"
# --help does no work: with an unwritable -o and a huge arch it returns at once.
expect 0 "gen --help before work" "$BPTOOL" gen convnext-b -o /nonexistent/dir/x.bp --help
grep_in "$T/out" "usage: bptool gen" "gen --help wins over the other arguments"
# Options that do not apply to the architecture are refused.
for a in resnet18-cifar resnet18; do
    expect 2 "gen $a --act gelu" "$BPTOOL" gen "$a" --act gelu -o "$T/x.bp"
    grep_in "$T/err" "act" "gen $a --act names the option"
done
expect 0 "gen convnext-t --act gelu" "$BPTOOL" gen convnext-t --act gelu --input 32x32 \
    --classes 10 -q -o "$T/cg.bp"
# Progress only on a terminal: none when stderr is a file.
expect 0 "gen to a file, stderr not a tty" "$BPTOOL" gen resnet18-cifar -o "$T/p.bp"
n=$((n + 1))
if [ -s "$T/err" ]; then
    echo "not ok $n - gen writes nothing to a non-tty stderr"; fails=$((fails + 1))
else
    echo "ok $n - gen writes nothing to a non-tty stderr"
fi
if command -v script >/dev/null 2>&1; then
    script -qec "'$BPTOOL' gen resnet18-cifar -o '$T/p2.bp' >/dev/null" /dev/null >"$T/tty" 2>&1
    grep_in "$T/tty" "layer 21/21" "gen shows layer i/n progress on a terminal"
else
    echo "# script(1) missing: terminal progress not checked"
fi
# Each error names its program and the file once.
for c in info verify; do
    expect 1 "$c missing file" "$BPTOOL" "$c" "$T/nofile.bp"
    n=$((n + 1))
    k=$(grep -o "nofile.bp" "$T/err" | wc -l)
    if [ "$k" -eq 1 ] && [ "$(grep -o 'bptool' "$T/err" | wc -l)" -eq 1 ]; then
        echo "ok $n - $c names the file and program once"
    else
        echo "not ok $n - $c: file named $k times"; sed 's/^/#   /' "$T/err"; fails=$((fails + 1))
    fi
done
expect 1 "prune missing file" "$BPTOOL" prune "$T/nofile.bp" -o "$T/x.bp"
n=$((n + 1))
if [ "$(grep -o "nofile.bp" "$T/err" | wc -l)" -eq 1 ]; then
    echo "ok $n - prune names the file once"
else
    echo "not ok $n - prune names the file more than once"; sed 's/^/#   /' "$T/err"; fails=$((fails + 1))
fi
printf 'garbage\n' >"$T/garbage.bp"
for c in info verify; do
    expect 1 "$c garbage file" "$BPTOOL" "$c" "$T/garbage.bp"
    n=$((n + 1))
    if [ "$(grep -o "garbage.bp" "$T/err" | wc -l)" -eq 1 ]; then
        echo "ok $n - $c names a bad file once"
    else
        echo "not ok $n - $c names a bad file more than once"; sed 's/^/#   /' "$T/err"; fails=$((fails + 1))
    fi
done

# ---- the histogram SVG, rasterized ----
expect 0 "gen pruned for the SVG" "$BPTOOL" gen resnet18-cifar --prune bit --sparsity 0.9 -q \
    -o "$T/h.bp"
expect 2 "info --log-y without --svg" "$BPTOOL" info "$T/h.bp" --log-y
for ly in "" --log-y; do
    expect 0 "info --svg $ly" "$BPTOOL" info "$T/h.bp" --no-hist $ly --svg "$T/h.svg"
    grep_in "$T/h.svg" "sparsity 0.9" "SVG title has the sparsity ($ly)"
    grep_in "$T/h.svg" "binary encoding" "SVG title has the encoding ($ly)"
    n=$((n + 1))
    ticks=$(grep -c 'stroke="#e4e4e4"' "$T/h.svg")
    legend=$(grep -c 'width="12" height="12"' "$T/h.svg")
    if [ "$ticks" -ge 3 ] && [ "$legend" -ge 2 ] && [ "$legend" -le 4 ]; then
        echo "ok $n - SVG has $ticks y ticks and a legend of $legend classes ($ly)"
    else
        echo "not ok $n - SVG: $ticks y ticks, $legend legend entries ($ly)"; fails=$((fails + 1))
    fi
    if command -v rsvg-convert >/dev/null 2>&1; then
        expect 0 "rsvg-convert renders the SVG ($ly)" rsvg-convert "$T/h.svg" -o "$T/h.png"
        n=$((n + 1))
        sz=$(wc -c <"$T/h.png")
        # PNG IHDR: width and height are big-endian at bytes 16..23.
        wh=$(od -An -tu1 -j16 -N8 "$T/h.png" | awk '{print $3*256+$4, $7*256+$8}')
        set -- $wh
        if [ "$sz" -gt 5000 ] && [ "$1" -ge 400 ] && [ "$2" -ge 200 ]; then
            echo "ok $n - PNG ${1}x${2}, $sz bytes ($ly)"
        else
            echo "not ok $n - PNG ${1:-?}x${2:-?}, $sz bytes ($ly)"; fails=$((fails + 1))
        fi
    else
        echo "# rsvg-convert missing: SVG not rasterized"
    fi
done

tap_done
