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
    assert x.shape == (100, 64) and float(x.min()) >= 0 and float(x.max()) <= 1 and int(y.max()) <= 9


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


def _tiny_mnist(folder, n=90, seed=0):
    """Two classes of 28x28 images (a bright left or right half, plus noise) in idx files, as on disk."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.uint8)
    img = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
    for i in range(n):
        img[i, :, 14 * y[i] : 14 * y[i] + 14] += 150
    (folder / "train-images-idx3-ubyte").write_bytes(struct.pack(">HBB3I", 0, 8, 3, n, 28, 28) + img.tobytes())
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(struct.pack(">HBBI", 0, 8, 1, n) + y.tobytes()))
    return img, y


def test_image_dataset_finds_and_scales_files(tmp_path):
    from wgflow.tasks.digits import image_dataset

    img, y = _tiny_mnist(tmp_path)
    x, lab = image_dataset("mnist", tmp_path)
    order = np.argsort(np.random.default_rng(0).permutation(len(y)))  # undo the shuffle
    assert x.shape == (90, 784) and np.allclose(x.numpy()[order] * 255, img.reshape(90, -1))
    assert np.array_equal(lab.numpy()[order], y)
    assert image_dataset("mnist", tmp_path, m=10, seed=3)[0].shape == (10, 784)
    with pytest.raises(FileNotFoundError, match="cifar10"):
        image_dataset("cifar10", tmp_path)


def test_geodesic_experiment_reads_mnist_files_from_disk(tmp_path):
    from wgflow.experiments import run_experiment
    from wgflow.harness import ConfigError

    data = tmp_path / "mnist"
    data.mkdir()
    _tiny_mnist(data)
    r = run_experiment(
        "resnet-geodesic",
        "quick",
        {
            "task": "mnist",
            "data_dir": str(data),
            "m": 60,
            "m_test": 30,
            "k": 4,
            "q": 4,
            "L": 4,
            "gammas": (0.0, 1e-3),
            "seeds": 1,
            "steps": 40,
            "lrs": (0.02,),
        },
        seed=0,
        out_dir=tmp_path / "run",
    )
    for net in ("resnet", "plain"):
        for g in ("0", "0.001"):
            assert r.metrics[f"{net}_lss_g{g}"] >= 1 and 0 <= r.metrics[f"{net}_ots_g{g}"] <= 1
            assert np.isfinite(r.metrics[f"{net}_kratio_g{g}"])
    assert r.metrics["resnet_acc_g0"] > 0.9  # the two halves are easy to tell apart
    with pytest.raises(ConfigError, match="data_dir"):
        run_experiment("resnet-geodesic", "quick", {"task": "cifar100", "data_dir": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match="cifar100"):
        run_experiment("resnet-geodesic", "quick", {"task": "cifar100", "data_dir": str(data)})
