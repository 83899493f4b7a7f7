#!/usr/bin/env bash
# eval_cli_test.sh: `bptool eval` end to end on a trained fixture: the text
# and JSON reports, --pred, the op counts against `bptool info`, and clean
# errors (exit 2 for usage, 1 for a missing data set or an unsuitable model).
# Skips (77) without the dataset-fashion-mnist package.
# Usage: eval_cli_test.sh BPTOOL DATA
set -u
BPTOOL=$1
DATA=$2
D=${BP_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -f "$D/t10k-images-idx3-ubyte.gz" ] || [ ! -f "$D/t10k-labels-idx1-ubyte.gz" ]; then
    echo "# skipped: no Fashion-MNIST test set in $D (install dataset-fashion-mnist)"
    exit 77
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
TAP_DIR=$T
. "$(dirname "$0")/../tap.sh"
M=$DATA/resnet8-bp.bp

expect 0 "text report" "$BPTOOL" eval "$M" --data fashion-mnist --limit 300 --count-limit 50
check "top-1 line" grep -q '^top-1 accuracy: [0-9.]*% ([0-9]*/300)$' "$T/out"
check "energy table" grep -q '^add-shift-add CSD (w,x)' "$T/out"
check "no progress bar when stderr is not a terminal" test ! -s "$T/err"
expect 0 "json report and predictions" "$BPTOOL" eval "$M" --data fashion-mnist --limit 300 \
    --count-limit 50 --json --pred "$T/pred"
check "300 predictions written" test "$(stat -c %s "$T/pred")" = 300
# the JSON parses and its counts are consistent: (w,x) <= (w) <= dense
check "json consistent" python3 - "$T/out" "$T/pred" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
pred = open(sys.argv[2], "rb").read()
assert r["images"] == 300 and r["count_images"] == 50, r
assert 0 <= r["correct"] <= 300 and abs(r["top1"] - r["correct"] / 300) < 1e-6
ops = r["ops"]
assert ops["dense_mult_add"]["mults"] == r["macs"]
assert ops["sparse_mult_add_wx"]["mults"] <= ops["sparse_mult_add_w"]["mults"] <= r["macs"]
assert ops["add_shift_add_binary_wx"]["adds"] <= ops["add_shift_add_binary_w"]["adds"]
assert all(0 <= p < 10 for p in pred)
PY

expect 2 "missing --data" "$BPTOOL" eval "$M"
expect 2 "unknown data set" "$BPTOOL" eval "$M" --data cifar10
expect 2 "bad --limit" "$BPTOOL" eval "$M" --data fashion-mnist --limit 0
expect 2 "unknown option" "$BPTOOL" eval "$M" --data fashion-mnist --frobnicate
expect 1 "missing data directory" "$BPTOOL" eval "$M" --data fashion-mnist --data-dir "$T/none"
check "the message names the file" grep -q "$T/none/t10k-images-idx3-ubyte.gz" "$T/err"
printf 'not gzip, not idx' >"$T/t10k-images-idx3-ubyte.gz"
cp "$D/t10k-labels-idx1-ubyte.gz" "$T/"
expect 1 "corrupt image file" "$BPTOOL" eval "$M" --data fashion-mnist --data-dir "$T"
check "the message says what is wrong" grep -q "t10k-images-idx3-ubyte.gz: IDX magic" "$T/err"
"$BPTOOL" gen resnet18-cifar -o "$T/r18.bp" >/dev/null 2>&1
expect 1 "a model with another input shape" "$BPTOOL" eval "$T/r18.bp" --data fashion-mnist
expect 1 "not a model" "$BPTOOL" eval "$T/t10k-images-idx3-ubyte.gz" --data fashion-mnist

echo "1..$n"
tap_done
