#!/usr/bin/python3
"""layer_kinds.py: sums a `bpbench --layers --json` report per layer kind
(ConvNeXt stem/dwconv/pwconv1/pwconv2/downsample/head; ResNet conv1/conv2/
downsample/fc) and per non-layer op, per backend, next to the end-to-end median.
Usage: bench/bpbench/layer_kinds.py REPORT.json"""
import json
import sys

if len(sys.argv) != 2:
    sys.exit(__doc__)
report = json.load(open(sys.argv[1]))
if report.get("schema_version") != 2:
    sys.exit("layer_kinds.py: expected a bpbench report of schema version 2")
j = report["sets"][0]  # the first --threads value
if "layers" not in j:
    sys.exit("layer_kinds.py: the report has no 'layers' (run bpbench with --layers)")
bk = [b["name"] for b in j["backends"]
      if b["status"] == "ok" and any(b["name"] in l["backends"] for l in j["layers"])]
KINDS = ("dwconv", "pwconv1", "pwconv2", "downsample", "stem", "head", "conv1", "conv2", "fc")


def kind(name):
    for k in KINDS:
        if k in name:
            return k
    return name


agg = {}
for l in j["layers"]:
    a = agg.setdefault(kind(l["name"]), {"macs": 0, "digits": 0, "weights": 0,
                                         **{b: 0.0 for b in bk}})
    a["macs"] += l["weights"] * l["out_pixels"]
    a["digits"] += l["digits"]
    a["weights"] += l["weights"]
    for b in bk:
        a[b] += l["backends"].get(b, {}).get("ms") or 0.0
print(f"{'kind':12} {'GMAC':>7} {'dig/w':>6} " + " ".join(f"{b:>12}" for b in bk))
for k, a in agg.items():
    print(f"{k:12} {a['macs'] / 1e9:7.3f} {a['digits'] / max(a['weights'], 1):6.3f} "
          + " ".join(f"{a[b]:12.3f}" for b in bk))
tot = {b: sum(a[b] for a in agg.values()) for b in bk}
print(f"{'all layers':12} {'':7} {'':6} " + " ".join(f"{tot[b]:12.3f}" for b in bk))
med = {b["name"]: b["latency_ms"]["median"] for b in j["backends"] if b["status"] == "ok"}
print(f"{'end to end':12} {'':7} {'':6} " + " ".join(f"{med[b]:12.3f}" for b in bk))
print("(ms per run; 'end to end' is the median of the timed runs, which also "
      "includes the non-layer ops)")
