#!/usr/bin/python3
"""train.py: trains one quantized network on Fashion-MNIST with Bit-Pruning
(bp), Weight-Pruning (wp) or no sparsity loss (none), then writes the
deployed model as QDQ ONNX and what torch computes for it on the test set.

  train.py --arch resnet8 --method bp --eta 1e-3 --epochs 1 --out DIR
           [--bits 8|4] [--init DIR/model.pt] [--train-limit N] [--lr LR]

DIR gets model.pt (state), model.onnx (QDQ), pred.npy (top-1 of the deployed
model on the 10k test images, computed in torch with the engine's
arithmetic), logits.npy (its outputs on the first 256 test images) and
meta.json (settings, accuracies, time)."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpq  # noqa: E402
import fmnist  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="resnet8", choices=sorted(bpq.ARCHS))
    ap.add_argument("--width", type=int, default=0, help="0: the arch default")
    ap.add_argument("--method", default="none", choices=["none", "bp", "wp"])
    ap.add_argument("--eta", type=float, default=0.0)
    ap.add_argument("--lam", type=float, default=1.0, help="eq. 8 lambda (bp)")
    ap.add_argument("--bits", type=int, default=8, choices=[8, 4],
                    help="weight magnitude bits (sign-magnitude: +-255 or +-15)")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--init", default="")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    qmax = 255 if a.bits == 8 else 15

    xtr, ytr = fmnist.load("train")
    xte, yte = fmnist.load("test")
    if a.train_limit:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
    Xtr = torch.from_numpy(fmnist.to_input(xtr))
    Ytr = torch.from_numpy(ytr.astype(np.int64))
    Xte = torch.from_numpy(fmnist.to_input(xte))

    kw = {"qmax": qmax}
    if a.width:
        kw["width"] = a.width
    model = bpq.ARCHS[a.arch](**kw)
    if a.init:
        model.load_state_dict(torch.load(a.init))
    reg = bpq.Regularizer(a.method, qmax, a.lam)
    convs = bpq.convs_of(model)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    steps = int(a.epochs * len(Xtr) / a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=max(steps, 1),
                                                pct_start=0.15 if not a.init else 0.05)
    t0 = time.time()
    model.train()
    g = torch.Generator().manual_seed(a.seed)
    perm = torch.randperm(len(Xtr), generator=g)
    pos = 0
    for it in range(steps):
        if pos + a.batch > len(Xtr):
            perm, pos = torch.randperm(len(Xtr), generator=g), 0
        idx = perm[pos:pos + a.batch]
        pos += a.batch
        out = model(Xtr[idx])
        task = F.cross_entropy(out, Ytr[idx])
        r = reg(convs)
        loss = task + a.eta * r
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if it % 100 == 0 or it == steps - 1:
            print("step %d/%d task %.4f reg %.1f (%.0fs)" % (it + 1, steps, task.item(),
                                                             float(r), time.time() - t0),
                  flush=True)
    train_s = time.time() - t0
    model.eval()
    torch.save(model.state_dict(), os.path.join(a.out, "model.pt"))

    with torch.no_grad():
        fq = torch.cat([model(Xte[i:i + 1000]) for i in range(0, len(Xte), 1000)])
        steps_d = bpq.deploy(model)
        dep = torch.cat([bpq.run_deployed(steps_d, Xte[i:i + 1000])
                         for i in range(0, len(Xte), 1000)])
    pred = dep.argmax(1).numpy().astype(np.uint8)
    np.save(os.path.join(a.out, "pred.npy"), pred)
    np.save(os.path.join(a.out, "logits.npy"), dep[:256].numpy())
    bpq.to_onnx(steps_d, os.path.join(a.out, "model.onnx"), (1, 28, 28))
    meta = dict(vars(a), qmax=qmax, train_seconds=round(train_s, 1),
                acc_fakequant=float((fq.argmax(1).numpy() == yte).mean()),
                acc_deployed=float((pred == yte).mean()),
                train_images=len(Xtr), steps=steps)
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("train: %s %s eta=%g bits=%d: test top-1 %.4f (deployed, torch), %.4f (fake-quant), "
          "%.0fs" % (a.arch, a.method, a.eta, a.bits, meta["acc_deployed"],
                     meta["acc_fakequant"], train_s))


if __name__ == "__main__":
    main()
