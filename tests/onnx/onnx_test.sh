#!/usr/bin/env bash
# onnx_test.sh: end-to-end checks of `bptool import` on ONNX models that
# export_models.py exports with torch at test time (nothing binary is kept in
# the repo). Exit 77 (skipped) when torch/onnx or node are missing.
#   onnx_test.sh import BPTOOL ONNX_RUN FUZZ_ONNX SRCDIR WORKDIR [BPBENCH]
#     every model imports, validates, runs on all backends with the integer
#     backends equal bit for bit (and, given BPBENCH, bpbench reports every
#     backend's agreement); pruning/percentile/raw-calibration variants;
#     an op the engine lacks, external data, an old opset and bad inputs fail
#     with exit 1, a message naming the cause and no output file; mutated
#     exported models never crash the importer.
#   onnx_test.sh oracle BPTOOL ONNX_RUN SRCDIR WORKDIR
#     the imported models against ONNX Runtime (onnxruntime-node from the npm
#     registry, installed once into a cache directory) via oracle.js.
set -u
MODE=$1
BPTOOL=$2
RUN=$3
if [ "$MODE" = import ]; then
    FUZZ=$4
    SRC=$5
    WORK=$6
    BPBENCH=${7:-}
else
    SRC=$4
    WORK=$5
fi
PY=/usr/bin/python3

skip() {
    echo "# SKIP $*"
    exit 77
}

if ! "$PY" -c 'import torch, onnx' 2>/dev/null; then
    skip "needs $PY with torch and onnx (Debian: python3-torch python3-onnx; tools/setup.sh)"
fi

W="$WORK/$MODE"
rm -rf "$W"
mkdir -p "$W"
TAP_DIR=$W
. "$(dirname "$0")/../tap.sh"
if ! "$PY" "$SRC/export_models.py" "$W" >"$W/export.log" 2>&1; then
    echo "not ok - export_models.py failed"
    tail -n 20 "$W/export.log" | sed 's/^/#   /'
    echo "0 passed, 1 failed"
    exit 1
fi
grep '^export_models' "$W/export.log" | sed 's/^/# /'
MODELS="resnet_float resnet_qdq_torch resnet_qdq_ort convnext_float misc_float"
MODELS="$MODELS mobilenet_float mobilenet_qdq_ort"
[ -f "$W/convnext_opset17.onnx" ] && MODELS="$MODELS convnext_opset17"
[ -f "$W/mobilenet_opset14.onnx" ] && MODELS="$MODELS mobilenet_opset14"
NTEST=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['n_test'])" \
        "$W/manifest.json")

# absent FILE DESC
absent() {
    n=$((n + 1))
    if [ ! -e "$1" ] && ! ls "$1".tmp* >/dev/null 2>&1; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2: $1 exists"
        fails=$((fails + 1))
    fi
}

import_all() {
    for m in $MODELS; do
        expect 0 "import $m" "$BPTOOL" import "$W/$m.onnx" -o "$W/$m.bp" --calib "$W/calib.npy" &&
            sed 's/^/#   /' "$W/out"
        cp "$W/out" "$W/$m.summary"
        expect 0 "run $m on every backend (integer backends bit-exact)" \
            "$RUN" "$W/$m.bp" "$W/test.f32" "$NTEST" "$W/$m" &&
            sed 's/^/#   /' "$W/out"
    done
}

if [ "$MODE" = oracle ]; then
    command -v node >/dev/null || skip "node is not installed (the ONNX Runtime oracle runs in Node)"
    ORT_VER=1.30.0
    ORT_DIR=${BP_ORT_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bitprune/onnxruntime-node-$ORT_VER}
    if [ ! -f "$ORT_DIR/node_modules/onnxruntime-node/package.json" ]; then
        command -v npm >/dev/null || skip "npm is not installed (needed once for onnxruntime-node)"
        mkdir -p "$ORT_DIR"
        echo "# installing onnxruntime-node@$ORT_VER into $ORT_DIR (once)"
        if ! (cd "$ORT_DIR" && ONNXRUNTIME_NODE_INSTALL=skip flock "$ORT_DIR/.lock" \
                npm install --no-audit --no-fund --ignore-scripts --no-save \
                "onnxruntime-node@$ORT_VER") >"$W/npm.log" 2>&1; then
            tail -n 5 "$W/npm.log" | sed 's/^/#   /'
            skip "npm could not install onnxruntime-node (no registry access?)"
        fi
    fi
    import_all
    n=$((n + 1))
    NODE_PATH="$ORT_DIR/node_modules" node "$SRC/oracle.js" "$W" >"$W/oracle.log" 2>&1
    rc=$?
    sed 's/^/#   /' "$W/oracle.log"
    if [ $rc = 77 ]; then
        skip "onnxruntime-node does not load"
    elif [ $rc = 0 ]; then
        echo "ok $n - ONNX Runtime oracle (oracle.js)"
    else
        echo "not ok $n - ONNX Runtime oracle (oracle.js)"
        fails=$((fails + 1))
    fi
    echo "$((n - fails)) passed, $fails failed"
    [ $fails = 0 ]
    exit
fi

import_all
for m in $MODELS; do
    expect 0 "bptool verify $m.bp" "$BPTOOL" verify "$W/$m.bp"
    # bpbench runs the imported model on all five backends and reports each
    # one's agreement with reference (exit 3 if an exact one disagrees)
    if [ -n "$BPBENCH" ]; then
        expect 0 "bpbench on $m.bp, every backend" "$BPBENCH" --model "$W/$m.bp" \
            --repeat 2 --warmup 0 --threads 1 --no-counts &&
            for be in reference bitplane csr onednn-int8 onednn-f32; do
                n=$((n + 1))
                if grep -Eq "^$be .*(the reference|bit-exact|max \|diff\|)" "$W/out"; then
                    echo "ok $n - bpbench on $m.bp: $be row with its agreement"
                else
                    echo "not ok $n - bpbench on $m.bp: no $be row with its agreement"
                    fails=$((fails + 1))
                fi
            done
    fi
done
grep_fixed "$W/resnet_float.summary" "6 batch norms folded" "resnet_float: the 6 batch norms fold into convs"
grep_fixed "$W/resnet_float.summary" "top-1 agreement" "the summary compares with the float reference"
grep_fixed "$W/convnext_float.summary" "1 GELU, 3 LayerNorm, 0 HardSwish recognised" \
    "convnext_float: GELU and 3 LayerNorms recognised"
grep_fixed "$W/mobilenet_float.summary" "0 LayerNorm, 1 HardSwish recognised" \
    "mobilenet_float: the decomposed hardswish x * relu6(x + 3) / 6 is recognised"
grep_fixed "$W/mobilenet_qdq_ort.summary" "13 layer inputs take their QuantizeLinear scale (0 approximated)" \
    "mobilenet_qdq_ort: all activation scales come from the QDQ pairs"
grep_fixed "$W/resnet_qdq_torch.summary" "7 layers (7 with QDQ integer weights)" \
    "resnet_qdq_torch: all 7 layers keep integer weights"
grep_fixed "$W/resnet_qdq_torch.summary" \
    "7 layer inputs take their QuantizeLinear scale (0 approximated)" \
    "resnet_qdq_torch: all activation scales come from the QDQ pairs"
grep_fixed "$W/resnet_qdq_ort.summary" "7 layer inputs take their QuantizeLinear scale (0 approximated)" \
    "resnet_qdq_ort: all activation scales come from the QDQ pairs"

# variants: pruning and encodings, percentile calibration, raw + .npy calibration files
expect 0 "import --prune bit --lambda 2 --sparsity 0.5 --encoding csd" \
    "$BPTOOL" import "$W/resnet_float.onnx" -o "$W/pruned.bp" --calib "$W/calib.npy" \
    --prune bit --lambda 2 --sparsity 0.5 --encoding csd
grep_fixed "$W/out" "sparsity 0.5" "the pruned model reaches sparsity 0.5"
expect 0 "pruned model: integer backends bit-exact" \
    "$RUN" "$W/pruned.bp" "$W/test.f32" "$NTEST" "$W/pruned"
expect 0 "import QDQ --prune weight --sparsity 0.3" \
    "$BPTOOL" import "$W/resnet_qdq_ort.onnx" -o "$W/qpruned.bp" --prune weight --sparsity 0.3
expect 0 "pruned QDQ model: integer backends bit-exact" \
    "$RUN" "$W/qpruned.bp" "$W/test.f32" "$NTEST" "$W/qpruned"
expect 0 "import --calib-method percentile --percentile 99.9" \
    "$BPTOOL" import "$W/convnext_float.onnx" -o "$W/pct.bp" --calib "$W/calib.npy" \
    --calib-method percentile --percentile 99.9
expect 0 "percentile model: integer backends bit-exact" \
    "$RUN" "$W/pct.bp" "$W/test.f32" "$NTEST" "$W/pct"
expect 0 "import with a raw float32 and a .npy calibration file" \
    "$BPTOOL" import "$W/resnet_float.onnx" -o "$W/raw.bp" --calib "$W/test.f32" "$W/calib.npy"
grep_fixed "$W/out" "on 32 calibration inputs" "both calibration files are read (16 + 16 inputs)"
expect 0 "import --wmax 255 (finer weights)" \
    "$BPTOOL" import "$W/resnet_float.onnx" -o "$W/w255.bp" --calib "$W/calib.npy" --wmax 255
expect 0 "--wmax 255 model: exact backends bit-exact" \
    "$RUN" "$W/w255.bp" "$W/test.f32" "$NTEST" "$W/w255"
grep_fixed "$W/out" "onednn-int8: inexact" "--wmax 255: onednn-int8 reports itself inexact"

# failures: exit 1, a message naming the cause, no output file
read -r SIG_NAME <"$W/unsupported.expect"
SIG_OP=$(sed -n 2p "$W/unsupported.expect")
expect 1 "an op the engine lacks fails" \
    "$BPTOOL" import "$W/unsupported.onnx" -o "$W/unsupported.bp"
grep_fixed "$W/err" "node '$SIG_NAME' ($SIG_OP)" "the message names the node '$SIG_NAME' and the op $SIG_OP"
absent "$W/unsupported.bp" "no output file after the failure"
"$PY" - "$W" <<'EOF'
import onnx, sys
w = sys.argv[1]
m = onnx.load(w + "/resnet_float.onnx")
onnx.save_model(m, w + "/external.onnx", save_as_external_data=True,
                all_tensors_to_one_file=True, location="external.data", size_threshold=0)
m = onnx.load(w + "/resnet_float.onnx")
m.opset_import[0].version = 8
onnx.save(m, w + "/opset8.onnx")
EOF
expect 1 "weights in external data fail" "$BPTOOL" import "$W/external.onnx" -o "$W/ext.bp"
grep_fixed "$W/err" "external file" "the message says the data is external"
absent "$W/ext.bp" "no output file after the failure"
expect 1 "opset 8 fails" "$BPTOOL" import "$W/opset8.onnx" -o "$W/o8.bp"
grep_fixed "$W/err" "opset 8" "the message names the opset"
head -c 1000 "$W/test.f32" >"$W/short.f32"
expect 1 "a calibration file of a partial input fails" \
    "$BPTOOL" import "$W/resnet_float.onnx" -o "$W/bad.bp" --calib "$W/short.f32"
grep_fixed "$W/err" "short.f32" "the message names the calibration file"
absent "$W/bad.bp" "no output file after the failure"
head -c 3000 "$W/resnet_float.onnx" >"$W/trunc.onnx"
expect 1 "a truncated model fails" "$BPTOOL" import "$W/trunc.onnx" -o "$W/trunc.bp"
grep_fixed "$W/err" "truncated or corrupt" "the message says the file is truncated or corrupt"
absent "$W/trunc.bp" "no output file after the failure"
expect 1 "a missing model fails" "$BPTOOL" import "$W/nothere.onnx" -o "$W/x.bp"
expect 2 "missing -o is a usage error" "$BPTOOL" import "$W/resnet_float.onnx"
expect 2 "--lambda without --prune bit is a usage error" \
    "$BPTOOL" import "$W/resnet_float.onnx" -o "$W/x.bp" --lambda 1
expect 2 "--wmax 300 is a usage error" \
    "$BPTOOL" import "$W/resnet_float.onnx" -o "$W/x.bp" --wmax 300
expect 0 "mutated exported models never crash the importer" \
    "$FUZZ" 200 "$W/resnet_qdq_torch.onnx" "$W/convnext_float.onnx" "$W/mobilenet_float.onnx"
tail -n 2 "$W/out" | head -n 1 | sed 's/^/#   /'

tap_done
