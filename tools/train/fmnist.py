"""fmnist.py: reads Fashion-MNIST from the idx files of Debian's
dataset-fashion-mnist package (gzip-compressed idx3/idx1)."""
import gzip
import os

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def data_dir():
    return os.environ.get("BP_FASHION_MNIST_DIR", DEFAULT_DIR)


def available():
    d = data_dir()
    return all(os.path.isfile(os.path.join(d, f)) for p in FILES.values() for f in p)


def _read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    m = int.from_bytes(raw[0:4], "big")
    if m != magic:
        raise ValueError("%s: magic %#x, expected %#x" % (path, m, magic))
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    off = 4 + 4 * ndim
    n = int(np.prod(dims))
    if len(raw) != off + n:
        raise ValueError("%s: %d bytes, expected %d" % (path, len(raw), off + n))
    return np.frombuffer(raw, np.uint8, n, off).reshape(dims)


def load(split):
    """(images uint8 [N, 28, 28], labels uint8 [N]) of split 'train' or 'test'."""
    d = data_dir()
    img, lab = FILES[split]
    x = _read_idx(os.path.join(d, img), 0x803, 3)
    y = _read_idx(os.path.join(d, lab), 0x801, 1)
    if len(x) != len(y):
        raise ValueError("%s: %d images, %d labels" % (split, len(x), len(y)))
    return x, y


def to_input(x_u8):
    """Model input: float32 NCHW, pixel / 255 (the C evaluator does the same)."""
    return (x_u8.astype(np.float32) / np.float32(255.0))[:, None, :, :]
