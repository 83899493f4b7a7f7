#!/usr/bin/python3
"""plot.py: accuracy vs energy per image (SVG, no plotting library) from a
sweep's results.json: Bit-Pruning in add-shift-add (binary and CSD digits),
Weight-Pruning in sparse mult-add, and the cross representations WP(add) and
BP(mult) for reference; 4-bit-base Bit-Pruning when present. Energy: ASIC
45 nm FIX8 costs of the paper's Table 1, effectual operations (zero weights
and zero activations skipped), as `bptool eval` reports them.

  plot.py RESULTS -o plot.svg [--model asic45_fix8] [--save-json FILE]

RESULTS: a sweep's results.json, or its directory (every */eval.json in it,
so a sweep still running can be plotted)."""
import argparse
import glob
import json
import math
import os


def load_results(path):
    """(arch, list of eval.json records with method/eta/bits set)."""
    if os.path.isdir(path):
        rs = []
        for f in sorted(glob.glob(os.path.join(path, "*", "eval.json"))):
            with open(f) as fh:
                r = json.load(fh)
            t = r["train"]
            r.update(name=os.path.basename(os.path.dirname(f)), method=t["method"],
                     eta=t["eta"], bits=t["bits"])
            rs.append(r)
        return (rs[0]["train"]["arch"] if rs else ""), rs
    with open(path) as fh:
        res = json.load(fh)
    return res.get("arch", ""), res["results"]

SERIES = [  # label, method, bits, ops key, colour, marker
    ("BP, add-shift-add (binary)", "bp", 8, "add_shift_add_binary_wx", "#1f77b4", "circle"),
    ("BP, add-shift-add (CSD)", "bp", 8, "add_shift_add_csd_wx", "#17becf", "circle"),
    ("WP, sparse mult-add", "wp", 8, "sparse_mult_add_wx", "#d62728", "square"),
    ("WP(add), add-shift-add (binary)", "wp", 8, "add_shift_add_binary_wx", "#ff9896", "square"),
    ("BP(mult), sparse mult-add", "bp", 8, "sparse_mult_add_wx", "#aec7e8", "diamond"),
    ("BP 4-bit base, add-shift-add (binary)", "bp", 4, "add_shift_add_binary_wx", "#2ca02c",
     "triangle"),
    ("no sparsity loss, sparse mult-add", "none", 8, "sparse_mult_add_wx", "#444444", "cross"),
    ("no sparsity loss, add-shift-add (binary)", "none", 8, "add_shift_add_binary_wx",
     "#888888", "cross"),
]


def nice_ticks(lo, hi, n=6):
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 2.5, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    t = math.ceil(lo / step) * step
    out = []
    while t <= hi + 1e-12:
        out.append(round(t, 10))
        t += step
    return out


def marker(kind, x, y, col):
    if kind == "circle":
        return '<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>' % (x, y, col)
    if kind == "square":
        return '<rect x="%.1f" y="%.1f" width="8" height="8" fill="%s"/>' % (x - 4, y - 4, col)
    if kind == "diamond":
        return '<path d="M%.1f %.1fl5 5l-5 5l-5 -5z" fill="%s"/>' % (x, y - 5, col)
    if kind == "triangle":
        return '<path d="M%.1f %.1fl5 9h-10z" fill="%s"/>' % (x, y - 5, col)
    return ('<path d="M%.1f %.1fl8 8M%.1f %.1fl-8 8" stroke="%s" stroke-width="2"/>'
            % (x - 4, y - 4, x + 4, y - 4, col))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--model", default="asic45_fix8")
    ap.add_argument("--save-json", default="", help="also write the collected results here")
    a = ap.parse_args()
    arch, rs = load_results(a.results)
    if a.save_json:
        with open(a.save_json, "w") as f:
            json.dump({"arch": arch, "results": rs}, f, indent=1)
    pts = []
    for lab, meth, bits, key, col, mk in SERIES:
        p = [(r["ops"][key]["energy_uj"][a.model] * 1e3, 100 * r["top1"]) for r in rs
             if r["method"] == meth and r["bits"] == bits and "ops" in r]
        if p:
            pts.append((lab, col, mk, sorted(p)))
    xs = [x for _, _, _, p in pts for x, _ in p]
    ys = [y for _, _, _, p in pts for _, y in p]
    x0, x1 = 0.0, max(xs) * 1.05
    y0, y1 = math.floor(min(ys) - 1), math.ceil(max(ys) + 1)
    W, H, L, R, T, B = 760, 500, 70, 20, 30, 60
    pw, ph = W - L - R, H - T - B

    def X(v):
        return L + (v - x0) / (x1 - x0) * pw

    def Y(v):
        return T + ph - (v - y0) / (y1 - y0) * ph

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="12">' % (W, H), '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="18" font-size="14">%s: top-1 on Fashion-MNIST test (engine) vs energy '
         'per image</text>' % (L, arch)]
    for t in nice_ticks(x0, x1):
        o.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>' % (X(t), X(t), T, T + ph))
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%g</text>' % (X(t), T + ph + 16, t))
    for t in nice_ticks(y0, y1):
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (L, L + pw, Y(t), Y(t)))
        o.append('<text x="%d" y="%.1f" text-anchor="end">%g</text>' % (L - 6, Y(t) + 4, t))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>' % (L, T, pw, ph))
    o.append('<text x="%.1f" y="%d" text-anchor="middle">energy per image [nJ] (%s, Table 1; '
             'zero weights and activations skipped)</text>' % (L + pw / 2, H - 16, a.model))
    o.append('<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">top-1 '
             'accuracy [%%]</text>' % (T + ph / 2))
    ly = T + ph - 14 * len(pts) - 8
    for i, (lab, col, mk, p) in enumerate(pts):
        path = " ".join("%s%.1f %.1f" % ("M" if k == 0 else "L", X(x), Y(y)) for k, (x, y) in enumerate(p))
        o.append('<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>' % (path, col))
        o += [marker(mk, X(x), Y(y), col) for x, y in p]
        yy = ly + 14 * i
        o.append(marker(mk, L + pw - 250, yy, col))
        o.append('<text x="%d" y="%.1f">%s</text>' % (L + pw - 240, yy + 4, lab))
    o.append("</svg>")
    with open(a.output, "w") as f:
        f.write("\n".join(o) + "\n")


if __name__ == "__main__":
    main()
