#!/usr/bin/env bash
# sweep.sh: the bitplane vs onednn-int8 and vs csr crossovers. Generates
# convnext-t at lambda 1 over weight sparsities 0.5 -> 0.98, times the three
# backends with bpbench, and (bench/bpbench/sweep_plot.py) prints digits per
# weight and the speedups per point, the digits-per-weight where bitplane stops
# beating each baseline (linear interpolation between the two points that
# bracket speedup 1), and writes OUT/ARCH-TAG.svg: speedup vs digits per
# weight, one line per baseline, crossovers marked.
# Usage: bench/bpbench/sweep.sh [BUILD_DIR] [extra bpbench options...]
#   env: SPARSITIES (default "0.5 0.6 0.7 0.8 0.85 0.9 0.95 0.98"), ARCH
#        (default convnext-t), PRUNE (bit | weight, default bit), LAMBDA
#        (default 1, for bit), OUT (default out/sweep)
# With PRUNE=bit, lambda 1 maps most weights to one digit, so digits per weight
# stay <= ~1; PRUNE=weight (magnitude pruning only, ~3 digits per nonzero)
# reaches higher digits per weight to locate a crossover beyond that.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
[ $# -gt 0 ] && shift
arch=${ARCH:-convnext-t}
lambda=${LAMBDA:-1}
prune=${PRUNE:-bit}
case "$prune" in
    bit) tag="l$lambda"; genopt=(--prune bit --lambda "$lambda") ;;
    weight) tag="w"; genopt=(--prune weight) ;;
    *) echo "sweep.sh: PRUNE must be bit or weight" >&2; exit 2 ;;
esac
out=${OUT:-out/sweep}
sparsities=${SPARSITIES:-"0.5 0.6 0.7 0.8 0.85 0.9 0.95 0.98"}
mkdir -p "$out"
for s in $sparsities; do
    m="$out/$arch-$tag-s$s.bp"
    [ -f "$m" ] || "$build/tools/bptool/bptool" gen "$arch" "${genopt[@]}" \
        --sparsity "$s" -q -o "$m"
    "$build/bench/bpbench/bpbench" --model "$m" --backend bitplane,onednn-int8,csr --no-counts \
        --json "$out/$arch-$tag-s$s.json" "$@" >/dev/null
done
/usr/bin/python3 bench/bpbench/sweep_plot.py "$out" "$arch" "$tag" $sparsities
