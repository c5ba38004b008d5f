r"""scikit-learn's 8×8 digits, and optional loaders for MNIST idx and CIFAR binary files.

``digits`` returns x (m, 64) scaled to [0, 1] (pixel/16) and labels (m,). The loaders read
files already on disk and never download (``image_dataset`` finds them in a folder):

- MNIST idx (LeCun et al.): big-endian magic 0x00000801 (labels) / 0x00000803 (images),
  then the dimensions as uint32, then uint8 data.
- CIFAR-10/100 *binary* version (``data_batch_*.bin``, ``train.bin``): records of
  ``n_label`` label bytes (1 for CIFAR-10; 2 = coarse, fine for CIFAR-100) + 3072 pixel bytes
  (1024 R, 1024 G, 1024 B). The python version is pickled and is deliberately not read.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import torch

__all__ = ["digits", "load_mnist_idx", "load_cifar_bin", "image_dataset", "IMAGE_DATASETS"]


def digits(m: int | None = None, seed: int = 0, dtype=torch.float64):
    from sklearn.datasets import load_digits

    d = load_digits()
    return _random_subset(d.data, d.target, m, seed, dtype, 16.0)


def _random_subset(x: np.ndarray, y: np.ndarray, m: int | None, seed: int, dtype, scale: float):
    """``m`` samples (all if None) in a random order drawn from ``seed``, as tensors, x divided by ``scale``.

    Only the chosen rows are converted (a full CIFAR set would be 1.5 GB as float64).
    """
    idx = np.random.default_rng(seed).permutation(len(y))[: m or len(y)]
    return torch.as_tensor(x[idx] / scale, dtype=dtype), torch.as_tensor(y[idx], dtype=torch.long)


def load_mnist_idx(path: str | Path) -> np.ndarray:
    """Array stored in an (optionally gzipped) idx file: (n,) labels or (n, rows, cols) images, uint8."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        import gzip

        raw = gzip.decompress(raw)
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file (magic {raw[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {int(np.prod(dims))} bytes of data, found {data.size}")
    return data.reshape(dims)


def load_cifar_bin(path: str | Path, n_label: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 3, 32, 32) uint8 and labels (n,) (the last label byte: fine label for CIFAR-100)."""
    raw = np.frombuffer(Path(path).read_bytes(), dtype=np.uint8)
    rec = n_label + 3072
    if raw.size % rec:
        raise ValueError(f"{path}: size {raw.size} is not a multiple of the record size {rec}")
    r = raw.reshape(-1, rec)
    return r[:, n_label:].reshape(-1, 3, 32, 32).copy(), r[:, n_label - 1].astype(np.int64)


#: File patterns searched in the folder: MNIST images and labels (idx, optionally gzipped).
_MNIST_FILES = (("*images-idx3-ubyte*", "*images.idx3-ubyte*"), ("*labels-idx1-ubyte*", "*labels.idx1-ubyte*"))
#: CIFAR binary files and their number of label bytes per record.
_CIFAR_FILES = {"cifar10": (("data_batch_*.bin", "test_batch.bin"), 1), "cifar100": (("train.bin", "test.bin"), 2)}
#: The names ``image_dataset`` reads.
IMAGE_DATASETS = ("mnist", *_CIFAR_FILES)


def image_dataset(name: str, root: str | Path, m: int | None = None, seed: int = 0, dtype=torch.float64):
    """x (m, D) in [0, 1] (pixel/255, flattened) and labels (m,) from MNIST or CIFAR files in ``root``.

    ``name``: "mnist" (idx files, optionally gzipped: train-images-idx3-ubyte, train-labels-idx1-ubyte,
    and/or the t10k pair, all pooled), "cifar10" (data_batch_*.bin, test_batch.bin) or "cifar100"
    (train.bin, test.bin; fine labels). A random subset of ``m`` samples (``seed``) is returned.
    Raises ``FileNotFoundError`` naming what was looked for when no file matches.
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"image dataset must be one of {sorted(IMAGE_DATASETS)}, not {name!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: data folder {root} does not exist")
    if name == "mnist":
        imgs, labs = (sorted({f for p in pats for f in root.glob(p)}) for pats in _MNIST_FILES)
        if not imgs or len(imgs) != len(labs):
            raise FileNotFoundError(
                f"mnist: need matching *images-idx3-ubyte[.gz] and *labels-idx1-ubyte[.gz] "
                f"files in {root} (found {len(imgs)} image and {len(labs)} label files)"
            )
        X = np.concatenate([a.reshape(len(a), -1) for a in map(load_mnist_idx, imgs)])
        Y = np.concatenate([load_mnist_idx(f).astype(np.int64) for f in labs])
        if len(X) != len(Y):
            raise ValueError(f"mnist: {len(X)} images but {len(Y)} labels in {root}")
    else:
        pats, n_label = _CIFAR_FILES[name]
        files = sorted({f for p in pats for f in root.glob(p)})
        if not files:
            raise FileNotFoundError(f"{name}: no {' or '.join(pats)} in {root} (the *binary* version is read)")
        parts = [load_cifar_bin(f, n_label=n_label) for f in files]
        X = np.concatenate([p[0].reshape(len(p[0]), -1) for p in parts])
        Y = np.concatenate([p[1] for p in parts])
    return _random_subset(X, Y, m, seed, dtype, 255.0)
