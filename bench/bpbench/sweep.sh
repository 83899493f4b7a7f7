#!/usr/bin/env bash
# sweep.sh: the bitplane vs onednn-int8 crossover. Generates convnext-t at
# lambda 1 over weight sparsities 0.5 -> 0.98, times both backends with
# bpbench, and reports digits per weight and the speedup per point, then the
# digits-per-weight where bitplane stops beating onednn-int8 (linear
# interpolation between the two points that bracket speedup 1).
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
    "$build/bench/bpbench/bpbench" --model "$m" --backend bitplane,onednn-int8 --no-counts \
        --json "$out/$arch-$tag-s$s.json" "$@" >/dev/null
done
/usr/bin/python3 - "$out" "$arch" "$tag" $sparsities <<'PY'
import json, sys
out, arch, tag, sps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
rows = []
for s in sps:
    j = json.load(open(f"{out}/{arch}-{tag}-s{s}.json"))
    b = {r["name"]: r for r in j["sets"][0]["backends"] if r["status"] == "ok"}
    bp, i8 = b["bitplane"], b["onednn-int8"]
    sp = bp["speedups"]["onednn-int8"]
    rows.append((float(s), j["model"]["digits_per_weight"], bp["latency_ms"]["median"],
                 i8["latency_ms"]["median"], sp["ratio"], sp["ci_low"], sp["ci_high"]))
m = j["machine"]
print(f"{arch}, {'lambda ' + tag[1:] if tag[0] == 'l' else 'weight pruning'}; {m['cpu']}, "
      f"{j['sets'][0]['threads']} threads, kernel ISA {bp['isa']}, "
      f"oneDNN {m['onednn_version']} ({i8['onednn_isa']})")
print(f"{'sparsity':>8} {'digits/w':>9} {'bitplane ms':>12} {'int8 ms':>9} {'speedup [95% interval]':>24}")
for r in rows:
    ci = f"[{r[5]:.2f}, {r[6]:.2f}]" if r[5] is not None else ""
    print(f"{r[0]:8.3f} {r[1]:9.4f} {r[2]:12.3f} {r[3]:9.3f} {r[4]:7.2f}x {ci:>15}")
rows.sort(key=lambda r: r[1])  # by digits per weight, ascending
# The crossover: the first point, from the fewest digits up, where bitplane
# is slower, interpolated linearly against the point before it.
first = next((i for i, r in enumerate(rows) if r[4] < 1), None)
if first is None:
    print(f"no crossover in range: bitplane faster at every point (up to {rows[-1][1]:.3f} digits/weight)")
elif first == 0:
    print(f"no crossover in range: bitplane already slower at the fewest digits ({rows[0][1]:.3f} digits/weight)")
else:
    a, b = rows[first - 1], rows[first]
    t = (a[4] - 1) / (a[4] - b[4])
    print(f"crossover: bitplane stops beating onednn-int8 at ~{a[1] + t * (b[1] - a[1]):.3f} digits per weight")
again = [r[1] for r in rows[(first or 0) + 1:] if first is not None and r[4] >= 1]
if again:
    print("note: faster again at " + ", ".join(f"{d:.3f}" for d in again)
          + " digits/weight (noise? rerun with more --repeat)")
PY
