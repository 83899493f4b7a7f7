#!/usr/bin/python3
"""make_fixture.py: turns a trained run directory (train.py --out DIR) into a
test fixture of tests/train/data: NAME.bp (by `bptool import` of DIR/model.onnx)
and NAME.expect, torch's results for the first N test images:

  images N
  torch_correct C            correct top-1 predictions of torch on them
  pred p0 p1 ...             torch's top-1 class of each image
  logits K                   then K lines of torch's 10 outputs (images 0..K-1)

  make_fixture.py RUN_DIR NAME [--images 1000] [--logits 16]"""
import argparse
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import fmnist  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("name")
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--logits", type=int, default=16)
    ap.add_argument("--dest", default=os.path.join(ROOT, "tests", "train", "data"))
    ap.add_argument("--bptool", default=os.path.join(ROOT, "build", "tools", "bptool", "bptool"))
    a = ap.parse_args()
    os.makedirs(a.dest, exist_ok=True)
    bp = os.path.join(a.dest, a.name + ".bp")
    subprocess.run([a.bptool, "import", os.path.join(a.run, "model.onnx"), "-o", bp, "-q",
                    "--no-report"], check=True)
    pred = np.load(os.path.join(a.run, "pred.npy"))[:a.images]
    logits = np.load(os.path.join(a.run, "logits.npy"))[:a.logits]
    _, y = fmnist.load("test")
    correct = int((pred == y[:a.images]).sum())
    with open(os.path.join(a.dest, a.name + ".expect"), "w") as f:
        f.write("images %d\ntorch_correct %d\npred %s\nlogits %d\n" % (
            a.images, correct, " ".join(str(int(p)) for p in pred), len(logits)))
        for row in logits:
            f.write(" ".join("%.9g" % v for v in row) + "\n")
    print("make_fixture: %s (%d bytes), torch top-1 %d/%d on the first images" % (
        bp, os.path.getsize(bp), correct, a.images))


if __name__ == "__main__":
    main()
