#!/usr/bin/python3
"""eta_scale.py: the eta at which a sparsity loss's gradient balances the task
loss's on a trained model, the scale used to place a sweep's eta range before
any fine-tuning is run.

  eta_scale.py --arch ARCH MODEL.pt [--batches 20] [--bits 8]

For each method (bp, wp) it prints ||grad CE|| (mean over training batches of
128, train mode, as in a training step), ||grad R|| (the regularizer of
train.py, which does not depend on the batch), both over the weights of every
conv layer (the weights R acts on), and eta* = ||grad CE|| / ||grad R||: at
eta = eta* the two terms pull on the conv weights equally hard."""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpq  # noqa: E402
import fmnist  # noqa: E402


def grad_norm(loss, params):
    g = torch.autograd.grad(loss, params, allow_unused=True)
    return float(torch.sqrt(sum((x * x).sum() for x in g if x is not None)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--arch", default="resnet8", choices=sorted(bpq.ARCHS))
    ap.add_argument("--bits", type=int, default=8, choices=[8, 4])
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    qmax = 255 if a.bits == 8 else 15
    model = bpq.ARCHS[a.arch](qmax=qmax)
    model.load_state_dict(torch.load(a.model))
    model.train()
    convs = bpq.convs_of(model)
    params = [m.weight for m in convs]
    xtr, ytr = fmnist.load("train")
    g = np.random.default_rng(a.seed)
    ce = []
    for _ in range(a.batches):
        idx = g.choice(len(xtr), a.batch, replace=False)
        x = torch.from_numpy(fmnist.to_input(xtr[idx]))
        y = torch.from_numpy(ytr[idx].astype(np.int64))
        ce.append(grad_norm(F.cross_entropy(model(x), y), params))
    gce = float(np.mean(ce))
    print("%s %s: %d conv layers, %d weights; ||grad CE|| = %.4g (mean of %d batches, "
          "spread %.3g-%.3g)" % (a.arch, a.model, len(convs), sum(p.numel() for p in params),
                                  gce, a.batches, min(ce), max(ce)))
    for method in ("bp", "wp"):
        r = bpq.Regularizer(method, qmax)(convs)
        gr = grad_norm(r, params)
        print("%s: R = %.4g, ||grad R|| = %.4g, eta* = %.3g" % (method, float(r), gr, gce / gr))


if __name__ == "__main__":
    main()
