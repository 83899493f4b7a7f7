#!/usr/bin/env bash
# results.sh: the measurements behind bench/README.md's "Results" section, for
# the CPU this runs on. Generates convnext-t and resnet18-cifar (lambda 1,
# sparsity 0.9, the default +-127 weights), then per CPU class this CPU can
# run (its own best ISA, and AVX2 code paths when it has AVX-512: bitplane and
# csr capped with --isa avx2, oneDNN capped with --onednn-cap avx2) times
# bitplane, csr and onednn-int8 at 1 and 2 threads, and writes:
#   OUT/CLASS-ARCH.txt, .json   bpbench's tables and JSON report
#   OUT/CLASS-convnext-t.svg    the per-layer plot (--plot-layers, its own
#                               run at 1 thread: -layers.txt, .json)
#   OUT/fig6-convnext-t.svg     the Figure 6 histogram (log y)
#   OUT/sweep/resnet18-cifar-l1.svg   the crossover sweep (sweep.sh)
# Usage: bench/results.sh [BUILD_DIR] [OUT]   (defaults: build, out/results)
#   env: REPEAT (rounds per backend, default 20), SWEEP=0 skips the sweep.
# A run takes about 10 minutes on 2 cores; run it on an otherwise idle
# machine (bpbench prints a noise verdict per backend).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=${2:-out/results}
repeat=${REPEAT:-20}
bptool="$build/tools/bptool/bptool"
bpbench="$build/bench/bpbench/bpbench"
for exe in "$bptool" "$bpbench"; do
    [ -x "$exe" ] || { echo "results.sh: $exe not found: build first" >&2; exit 1; }
done
mkdir -p "$out"

for arch in convnext-t resnet18-cifar; do
    [ -f "$out/$arch.bp" ] || "$bptool" gen "$arch" --prune bit --lambda 1 --sparsity 0.9 \
        -q -o "$out/$arch.bp"
done
"$bptool" info "$out/convnext-t.bp" --no-hist --svg "$out/fig6-convnext-t.svg" --log-y \
    >/dev/null

# CLASS:bpbench options. The host's own class first; AVX2 only as a cap of a
# bigger x86 CPU (an AVX2-only CPU runs it as its own class).
classes=("native:")
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
    classes+=("avx2:--isa avx2 --onednn-cap avx2")
fi
for c in "${classes[@]}"; do
    name=${c%%:*}
    read -r -a opts <<<"${c#*:}"
    for arch in convnext-t resnet18-cifar; do
        echo "results.sh: $name $arch" >&2
        "$bpbench" --model "$out/$arch.bp" --backend bitplane,csr,onednn-int8 \
            --threads 1,2 --repeat "$repeat" "${opts[@]}" \
            --json "$out/$name-$arch.json" >"$out/$name-$arch.txt"
    done
    # Per-layer times in their own run: profiling is on during --layers runs.
    "$bpbench" --model "$out/convnext-t.bp" --backend bitplane,csr,onednn-int8 --threads 1 \
        --repeat 5 "${opts[@]}" --plot-layers "$out/$name-convnext-t.svg" --no-counts \
        --json "$out/$name-convnext-t-layers.json" >"$out/$name-convnext-t-layers.txt"
done

if [ "${SWEEP:-1}" != 0 ]; then
    echo "results.sh: sweep" >&2
    SPARSITIES="0.7 0.8 0.85 0.9 0.95 0.98" ARCH=resnet18-cifar OUT="$out/sweep" \
        bench/bpbench/sweep.sh "$build" --threads 1 --iters "$repeat"
fi
echo "results.sh: wrote $out" >&2
