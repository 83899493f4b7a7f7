#!/usr/bin/python3
"""sweep.py: the accuracy/energy sweep. Trains a base model (no sparsity loss)
unless --base is given, fine-tunes it once per (method, eta, bits), converts
each result with `bptool import`, evaluates it with `bptool eval` (the engine
is the judge), checks that the engine's predictions equal torch's image by
image, and writes results.json and the plot.

  sweep.py --out DIR [--arch resnet8] [--small] [--jobs 2] [--base DIR/model.pt]
           [--bp-etas 3e-6,1e-5,...] [--wp-etas 3e-5,1e-4,...] [--no-4bit] [--seed 1]

--small: 2 etas per method, 8-bit only (the documented quick run).
--bp-etas / --wp-etas replace the default eta lists (the ResNet-8 ones); the
4-bit points use the BP list."""
import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ETAS = {"bp": [3e-6, 1e-5, 3e-5, 1e-4, 3e-4], "wp": [3e-5, 1e-4, 3e-4, 1e-3, 3e-3]}
SMALL = {"bp": [1e-5, 1e-4], "wp": [1e-4, 1e-3]}


def sh(cmd, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=True)


def train_cmd(a, out, extra):
    # training runs at niceness 15 (not more when the sweep itself is niced)
    return ["nice", "-n", str(max(0, 15 - os.nice(0))), sys.executable, os.path.join(HERE, "train.py"), "--arch", a.arch,
            "--out", out] + extra


def judge(a, d):
    """import -> eval; returns the eval JSON plus the torch comparison."""
    log = os.path.join(d, "log.txt")
    bp = os.path.join(d, "model.bp")
    sh([a.bptool, "import", os.path.join(d, "model.onnx"), "-o", bp, "--no-report"], log)
    r = subprocess.run([a.bptool, "eval", bp, "--data", "fashion-mnist", "--json",
                        "--count-limit", str(a.count_limit), "--pred",
                        os.path.join(d, "engine_pred.u8")],
                       capture_output=True, text=True, check=True)
    res = json.loads(r.stdout)
    eng = np.fromfile(os.path.join(d, "engine_pred.u8"), np.uint8)
    tor = np.load(os.path.join(d, "pred.npy"))
    res["pred_differences_vs_torch"] = int((eng != tor).sum())
    with open(os.path.join(d, "meta.json")) as f:
        res["train"] = json.load(f)
    with open(os.path.join(d, "eval.json"), "w") as f:
        json.dump(res, f, indent=1)
    return res


def run_one(a, base, method, eta, bits):
    name = "%s-%s-b%d-eta%g" % (a.arch, method, bits, eta)
    d = os.path.join(a.out, name)
    if not os.path.exists(os.path.join(d, "eval.json")):
        os.makedirs(d, exist_ok=True)
        sh(train_cmd(a, d, ["--method", method, "--eta", repr(eta), "--bits", str(bits),
                            "--init", base, "--epochs", str(a.epochs), "--lr", str(a.lr),
                            "--seed", str(a.seed)]),
           os.path.join(d, "log.txt"))
        judge(a, d)
    with open(os.path.join(d, "eval.json")) as f:
        r = json.load(f)
    r.update(name=name, method=method, eta=eta, bits=bits)
    print("sweep: %-32s top-1 %.4f (torch %.4f, %d predictions differ)" % (
        name, r["top1"], r["train"]["acc_deployed"], r["pred_differences_vs_torch"]), flush=True)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--arch", default="resnet8")
    ap.add_argument("--base", default="")
    ap.add_argument("--base-epochs", type=float, default=1.5)
    ap.add_argument("--epochs", type=float, default=0.3, help="fine-tuning epochs per point")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--no-4bit", action="store_true")
    ap.add_argument("--bp-etas", default="", help="comma-separated, replaces the default list")
    ap.add_argument("--wp-etas", default="", help="comma-separated, replaces the default list")
    ap.add_argument("--seed", type=int, default=1, help="fine-tuning runs' seed (batch order)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--count-limit", type=int, default=1000)
    ap.add_argument("--bptool", default=os.path.join(ROOT, "build", "tools", "bptool", "bptool"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    base = a.base
    results = []
    if not base:
        d = os.path.join(a.out, "%s-base" % a.arch)
        if not os.path.exists(os.path.join(d, "model.pt")):
            os.makedirs(d, exist_ok=True)
            sh(train_cmd(a, d, ["--epochs", str(a.base_epochs), "--lr", "3e-3"]),
               os.path.join(d, "log.txt"))
        base = os.path.join(d, "model.pt")
    bd = os.path.dirname(os.path.abspath(base))
    link = os.path.join(a.out, "%s-base" % a.arch)
    if not os.path.exists(link):
        os.symlink(bd, link)  # so the sweep directory holds every point
    if not os.path.exists(os.path.join(bd, "eval.json")):
        judge(a, bd)
    with open(os.path.join(bd, "eval.json")) as f:
        r = json.load(f)
    r.update(name="base", method="none", eta=0.0, bits=8)
    results.append(r)
    etas = dict(SMALL if a.small else ETAS)
    for m, v in (("bp", a.bp_etas), ("wp", a.wp_etas)):
        if v:
            etas[m] = [float(e) for e in v.split(",")]
    # interleaved, so a partial sweep has both methods
    n = max(len(etas["bp"]), len(etas["wp"]))
    jobs = [(m, etas[m][i], 8) for i in range(n) for m in ("bp", "wp") if i < len(etas[m])]
    if not a.small and not a.no_4bit:
        jobs += [("bp", e, 4) for e in etas["bp"]]
    with ThreadPoolExecutor(a.jobs) as ex:
        results += list(ex.map(lambda j: run_one(a, base, *j), jobs))
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"arch": a.arch, "epochs": a.epochs, "results": results,
                   "seconds": round(time.time() - t0)}, f, indent=1)
    subprocess.run([sys.executable, os.path.join(HERE, "plot.py"),
                    os.path.join(a.out, "results.json"), "-o",
                    os.path.join(a.out, "accuracy_energy.svg")], check=True)
    print("sweep: %d points in %.0f s -> %s" % (len(results), time.time() - t0, a.out))


if __name__ == "__main__":
    main()
