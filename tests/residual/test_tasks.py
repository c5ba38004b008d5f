"""Generated 2-D tasks, scikit-learn digits, and the MNIST idx / CIFAR binary loaders on tiny files."""

import gzip
import struct

import numpy as np
import pytest

from wgflow.tasks.digits import digits, load_cifar_bin, load_mnist_idx
from wgflow.tasks.moons import spirals, two_moons


def test_generated_tasks():
    for f in (two_moons, lambda m, seed: spirals(m, n_classes=3, seed=seed)):
        x, y = f(60, seed=0)
        assert x.shape == (60, 2) and set(y.tolist()) >= {0, 1}
        assert abs(float(x.mean())) < 1e-12
        assert np.array_equal(f(60, seed=0)[0].numpy(), x.numpy())


def test_digits():
    x, y = digits(100)
    assert x.shape == (100, 64) and 0 <= float(x.min()) and float(x.max()) <= 1 and int(y.max()) <= 9


def test_mnist_idx(tmp_path):
    img = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    p = tmp_path / "img.idx3-ubyte"
    p.write_bytes(struct.pack(">HBB3I", 0, 8, 3, 2, 3, 4) + img.tobytes())
    assert np.array_equal(load_mnist_idx(p), img)
    q = tmp_path / "lab.idx1-ubyte.gz"
    q.write_bytes(gzip.compress(struct.pack(">HBBI", 0, 8, 1, 3) + bytes([7, 1, 9])))
    assert load_mnist_idx(q).tolist() == [7, 1, 9]
    bad = tmp_path / "bad"
    bad.write_bytes(struct.pack(">HBBI", 0, 8, 1, 5) + bytes([1]))
    with pytest.raises(ValueError):
        load_mnist_idx(bad)


def test_cifar_binary(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(3, 3, 32, 32), dtype=np.uint8)
    for n_label, labels in ((1, [[4], [0], [9]]), (2, [[1, 55], [2, 7], [3, 99]])):
        recs = b"".join(bytes(lab) + im.tobytes() for lab, im in zip(labels, imgs))
        p = tmp_path / f"data_batch_{n_label}.bin"
        p.write_bytes(recs)
        X, y = load_cifar_bin(p, n_label=n_label)
        assert np.array_equal(X, imgs) and y.tolist() == [lab[-1] for lab in labels]
    (tmp_path / "short.bin").write_bytes(b"\0" * 100)
    with pytest.raises(ValueError):
        load_cifar_bin(tmp_path / "short.bin")
