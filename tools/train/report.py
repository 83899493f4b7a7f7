#!/usr/bin/python3
"""report.py: the markdown tables of tools/train/README.md from a sweep
directory: one row per trained model (engine top-1, agreement with torch,
sigma_mult, sigma_add, energies), the weight statistics behind Fig. 6 (share
of nonzero weights that are powers of two, digits per nonzero weight), and
the per-claim comparisons.

  report.py SWEEP_DIR [--model asic45_fix8]"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from plot import load_results  # noqa: E402


def weight_stats(run_dir):
    """(share of nonzero integer weights that are +-2^k, binary digits per
    nonzero weight, weight sparsity) over all conv/linear layers of model.onnx."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(os.path.join(run_dir, "model.onnx"))
    w = np.concatenate([numpy_helper.to_array(t).ravel() for t in m.graph.initializer
                        if t.name.endswith("_wi")]).astype(np.int64)
    a = np.abs(w[w != 0])
    pot = float(((a & (a - 1)) == 0).mean()) if len(a) else 0.0
    dig = float(np.mean([bin(int(v)).count("1") for v in a])) if len(a) else 0.0
    return pot, dig, 1.0 - len(a) / len(w)


def E(r, key, model):
    return r["ops"][key]["energy_uj"][model] * 1e3  # nJ


def best_at(points, acc):
    """Lowest energy among (energy, acc) points with accuracy >= acc, or None."""
    ok = [e for e, a in points if a >= acc]
    return min(ok) if ok else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sweep")
    ap.add_argument("--model", default="asic45_fix8")
    a = ap.parse_args()
    arch, rs = load_results(a.sweep)
    rs.sort(key=lambda r: (r["bits"], r["method"], r["eta"]))
    md = a.model
    print("| model | η | top-1 engine | torch = engine | σ_mult (w,x) | σ_add bin (w,x) | "
          "PoT share | digits/nz w | sparsity | E mult-add [nJ] | E add-shift-add bin [nJ] | "
          "E add-shift-add CSD [nJ] |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rs:
        pot, dig, sp = weight_stats(os.path.join(a.sweep, r["name"]))
        r["pot"], r["dig"], r["sp"] = pot, dig, sp
        label = {"none": "no sparsity loss", "bp": "BP", "wp": "WP"}[r["method"]]
        print("| %s %d-bit | %s | %.2f%% | %s | %.3f | %.3f | %.2f | %.2f | %.3f | %.2f | %.2f | "
              "%.2f |" % (label, r["bits"], "%g" % r["eta"] if r["eta"] else "-", 100 * r["top1"],
                          "yes" if r["pred_differences_vs_torch"] == 0 else
                          "%d differ" % r["pred_differences_vs_torch"],
                          r["sigma_mult_wx"], r["sigma_add_binary_wx"], pot, dig, sp,
                          E(r, "sparse_mult_add_wx", md), E(r, "add_shift_add_binary_wx", md),
                          E(r, "add_shift_add_csd_wx", md)))
    bp8 = [r for r in rs if r["method"] == "bp" and r["bits"] == 8]
    wp8 = [r for r in rs if r["method"] == "wp" and r["bits"] == 8]
    bp4 = [r for r in rs if r["method"] == "bp" and r["bits"] == 4]
    base = [r for r in rs if r["method"] == "none"]
    print("\nClaim 1 (BP in add-shift-add vs WP in mult-add at matched accuracy): for each WP "
          "point, the lowest-energy BP point at least as accurate.\n")
    eb_m = E(base[0], "sparse_mult_add_wx", md) if base else float("nan")
    eb_a = E(base[0], "add_shift_add_binary_wx", md) if base else float("nan")
    print("| WP η | WP top-1 | WP E mult-add [nJ] (vs base) | best BP E bin [nJ] (vs base) | "
          "ratio BP/WP | best BP E CSD [nJ] | ratio | WP(add) E bin [nJ] | BP/WP(add) |")
    print("|---|---|---|---|---|---|---|---|---|")
    bpb = [(E(r, "add_shift_add_binary_wx", md), r["top1"]) for r in bp8]
    bpc = [(E(r, "add_shift_add_csd_wx", md), r["top1"]) for r in bp8]
    for r in wp8:
        ew = E(r, "sparse_mult_add_wx", md)
        b, c = best_at(bpb, r["top1"]), best_at(bpc, r["top1"])
        print("| %g | %.2f%% | %.2f (%.2f) | %s | %s | %s | %s | %.2f | %s |" % (
            r["eta"], 100 * r["top1"], ew, ew / eb_m,
            "%.2f (%.2f)" % (b, b / eb_a) if b else "none as accurate",
            "%.2f" % (b / ew) if b else "-", "%.2f" % c if c else "-",
            "%.2f" % (c / ew) if c else "-", E(r, "add_shift_add_binary_wx", md),
            "%.2f" % (b / E(r, "add_shift_add_binary_wx", md)) if b else "-"))
    if bp4:
        print("\nClaim 3 (8-bit base vs 4-bit base Bit-Pruning): for each 4-bit point, the "
              "lowest-energy 8-bit BP point at least as accurate.\n")
        print("| 4-bit η | 4-bit top-1 | 4-bit E bin [nJ] | best 8-bit E bin [nJ] | ratio 8/4 |")
        print("|---|---|---|---|---|")
    for r in bp4:
        e4 = E(r, "add_shift_add_binary_wx", md)
        b = best_at(bpb, r["top1"])
        print("| %g | %.2f%% | %.2f | %s | %s |" % (r["eta"], 100 * r["top1"], e4,
                                                  "%.2f" % b if b else "none as accurate",
                                                  "%.2f" % (b / e4) if b else "-"))
    for r in base:
        print("\nbase (no sparsity loss): top-1 %.2f%%, PoT share %.2f, E mult-add %.2f nJ, "
              "E add-shift-add %.2f nJ" % (100 * r["top1"], r["pot"],
                                            E(r, "sparse_mult_add_wx", md),
                                            E(r, "add_shift_add_binary_wx", md)))


if __name__ == "__main__":
    main()
