#!/usr/bin/python3
"""sweep_plot.py: table and SVG of bitplane's speedup vs digits per weight (stdlib only)."""
# Usage: sweep_plot.py OUT_DIR ARCH TAG SPARSITY... ; reads OUT_DIR/ARCH-TAG-sS.json
# (bpbench --json with bitplane, onednn-int8 and csr), prints the table and the
# crossovers, writes OUT_DIR/ARCH-TAG.svg.
import json
import math
import sys


def crossover(pts):
    """Digits/weight where the speedup first crosses 1, from the fewest digits
    up (linear between the bracketing points); None if it never does."""
    for i in range(1, len(pts)):
        (xa, ya), (xb, yb) = pts[i - 1], pts[i]
        if (ya >= 1 > yb) or (ya < 1 <= yb):
            return xa + (ya - 1) / (ya - yb) * (xb - xa)
    return None


def nice_step(span, n=5):
    raw = span / n
    p = 10 ** math.floor(math.log10(raw))
    return next(m * p for m in (1, 2, 5, 10) if raw <= m * p)


def svg(path, title, series, xs_all):
    W, H, L, R, T, B = 720, 420, 70, 170, 40, 55
    pw, ph = W - L - R, H - T - B
    ys = [y for _, pts, _ in series for _, y in pts] + [1.0]
    xmax = max(xs_all) * 1.05
    ymax = max(ys) * 1.1
    xs_step, ys_step = nice_step(xmax), nice_step(ymax)
    xmax = xs_step * math.ceil(xmax / xs_step)
    ymax = ys_step * math.ceil(ymax / ys_step)
    X = lambda x: L + pw * x / xmax
    Y = lambda y: T + ph * (1 - y / ymax)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         'font-family="sans-serif" font-size="11">',
         '<rect width="100%" height="100%" fill="white"/>',
         f'<text x="{L}" y="22" font-size="13">{title}</text>']
    t = 0.0
    while t <= ymax + 1e-9:
        o.append(f'<line x1="{L}" y1="{Y(t):.1f}" x2="{L + pw}" y2="{Y(t):.1f}" stroke="#e6e6e6"/>'
                 f'<text x="{L - 5}" y="{Y(t) + 4:.1f}" text-anchor="end">{t:g}×</text>')
        t += ys_step
    t = 0.0
    while t <= xmax + 1e-9:
        o.append(f'<line x1="{X(t):.1f}" y1="{T + ph}" x2="{X(t):.1f}" y2="{T + ph + 4}" stroke="black"/>'
                 f'<text x="{X(t):.1f}" y="{T + ph + 16}" text-anchor="middle">{t:g}</text>')
        t += xs_step
    o.append(f'<line x1="{L}" y1="{Y(1):.1f}" x2="{L + pw}" y2="{Y(1):.1f}" stroke="black" '
             'stroke-dasharray="4 3"/>')
    o.append(f'<line x1="{L}" y1="{T}" x2="{L}" y2="{T + ph}" stroke="black"/>'
             f'<line x1="{L}" y1="{T + ph}" x2="{L + pw}" y2="{T + ph}" stroke="black"/>')
    o.append(f'<text x="{L + pw / 2}" y="{H - 12}" text-anchor="middle">'
             'binary digits per weight (nonzero bits / weights)</text>')
    o.append(f'<text transform="translate(18,{T + ph / 2}) rotate(-90)" text-anchor="middle">'
             'bitplane speedup (baseline median / bitplane median)</text>')
    for k, (name, pts, col) in enumerate(series):
        if pts:
            o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                     % (col, " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in pts)))
            for x, y in pts:
                o.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3" fill="{col}">'
                         f'<title>{x:.4f} digits/w: {y:.2f}×</title></circle>')
        c = crossover(pts)
        if c is not None:
            o.append(f'<line x1="{X(c):.1f}" y1="{T}" x2="{X(c):.1f}" y2="{T + ph}" stroke="{col}" '
                     'stroke-dasharray="2 2"/>'
                     f'<text x="{X(c) + 3:.1f}" y="{T + 12 + 12 * k}" fill="{col}">'
                     f'crossover {c:.3f}</text>')
        ly = T + 10 + 20 * k
        o.append(f'<line x1="{L + pw + 15}" y1="{ly}" x2="{L + pw + 35}" y2="{ly}" stroke="{col}" '
                 f'stroke-width="2"/><text x="{L + pw + 40}" y="{ly + 4}">vs {name}</text>')
    o.append(f'<text x="{L + pw + 15}" y="{T + 10 + 20 * len(series)}">dashed: 1× (equal)</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def main():
    out, arch, tag, sps = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    rows = []
    for s in sps:
        with open(f"{out}/{arch}-{tag}-s{s}.json") as f:
            j = json.load(f)
        b = {r["name"]: r for r in j["sets"][0]["backends"] if r["status"] == "ok"}
        if "bitplane" not in b:
            sys.exit(f"sweep_plot.py: {s}: bitplane did not run")
        bp = b["bitplane"]
        sp = {k: (bp["speedups"].get(k) or {}).get("ratio") for k in ("onednn-int8", "csr")}
        rows.append((float(s), j["model"]["digits_per_weight"], bp["latency_ms"]["median"], sp))
    m = j["machine"]
    what = "lambda " + tag[1:] if tag[0] == "l" else "weight pruning"
    print(f"{arch}, {what}; {m['cpu']}, {j['sets'][0]['threads']} threads")
    print(f"{'sparsity':>8} {'digits/w':>9} {'bitplane ms':>12} {'vs int8':>8} {'vs csr':>8}")
    fmt = lambda v: f"{v:7.2f}x" if v is not None else f"{'-':>8}"
    for s, d, ms, sp in rows:
        print(f"{s:8.3f} {d:9.4f} {ms:12.3f} {fmt(sp['onednn-int8'])} {fmt(sp['csr'])}")
    rows.sort(key=lambda r: r[1])
    series = []
    for name, col in (("onednn-int8", "#d62728"), ("csr", "#1f4fd6")):
        pts = [(r[1], r[3][name]) for r in rows if r[3][name] is not None]
        c = crossover(pts)
        if not pts:
            print(f"vs {name}: did not run")
        elif c is None:
            print(f"vs {name}: no crossover in range ({pts[0][0]:.3f}..{pts[-1][0]:.3f} digits/weight)")
        else:
            print(f"vs {name}: speedup crosses 1x at ~{c:.3f} digits per weight")
        series.append((name, pts, col))
    path = f"{out}/{arch}-{tag}.svg"
    svg(path, f"{arch}, {what}: bitplane speedup vs digits per weight ({m['cpu']})"
        .replace("&", "&amp;").replace("<", "&lt;"), series, [r[1] for r in rows])
    print(f"wrote {path}")


main()
