"""A researcher's own data: torch Datasets and DataLoaders, CSV and .npz files, as tensors x (N, d), y (N,).

* :func:`as_tensors` reads a ``torch.utils.data.Dataset`` or ``DataLoader`` (its dataset, by index: no
  shuffling and no random numbers drawn, so reading it never changes a training run) or a pair (x, y).
* :func:`load_xy` reads a file: ``.csv`` (numbers separated by commas, an optional header line, y in
  the last column by default) or ``.npz`` (arrays ``x`` and ``y``). Every problem is one line of
  :class:`~wgflow.errors.ConfigError` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sized
from pathlib import Path
from typing import cast

import numpy as np
import torch

from ..errors import ConfigError

__all__ = ["as_tensors", "load_xy", "DATA_SUFFIXES"]

DATA_SUFFIXES = (".csv", ".npz")


def _xy_check(x: torch.Tensor, y: torch.Tensor, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    if x.ndim == 1:
        x = x[:, None]
    x = x.reshape(x.shape[0], -1)  # images etc.: one row per sample
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ConfigError(f"{where}: y must have one value per sample ({x.shape[0]}), got shape {tuple(y.shape)}")
    if x.shape[0] < 1:
        raise ConfigError(f"{where}: no samples")
    if not (torch.isfinite(x).all() and torch.isfinite(y).all()):
        raise ConfigError(f"{where}: data contain NaN or Inf")
    return x, y


def as_tensors(data, y=None, *, limit: int | None = None, dtype: torch.dtype | None = None):
    """(x (N, d), y (N,)) from tensors, a map-style Dataset of (x_i, y_i) pairs, or a DataLoader.

    ``limit`` keeps the first ``limit`` samples (in dataset order). A ``TensorDataset`` is read without a
    Python loop. Iterable-style datasets are read in order up to ``limit``.
    """
    from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

    if y is not None:
        x, y = torch.as_tensor(data), torch.as_tensor(y)
        x, y = (x[:limit], y[:limit]) if limit else (x, y)
    else:
        ds = data.dataset if isinstance(data, DataLoader) else data
        if isinstance(ds, TensorDataset):
            if len(ds.tensors) != 2:
                raise ConfigError(f"TensorDataset must hold (x, y), got {len(ds.tensors)} tensors")
            x, y = (t[:limit] if limit else t for t in ds.tensors)
        elif isinstance(ds, (Dataset, IterableDataset)) or hasattr(ds, "__getitem__"):
            rows: list[tuple[torch.Tensor, torch.Tensor]] = []
            n_items = 0 if isinstance(ds, IterableDataset) else len(cast(Sized, ds))  # map-style: has __len__
            items = iter(ds) if isinstance(ds, IterableDataset) else (ds[i] for i in range(n_items))
            for item in items:
                if limit is not None and len(rows) >= limit:
                    break
                if not (isinstance(item, (tuple, list)) and len(item) == 2):
                    raise ConfigError("a dataset item must be a pair (x, y)")
                rows.append((torch.as_tensor(item[0]), torch.as_tensor(item[1])))
            if not rows:
                raise ConfigError("the dataset is empty")
            x = torch.stack([r[0] for r in rows])
            y = torch.stack([r[1].reshape(()) if r[1].numel() == 1 else r[1] for r in rows])
        else:
            raise ConfigError(f"expected tensors (x, y), a torch Dataset or a DataLoader, got {type(data).__name__}")
    x, y = _xy_check(x, y, "data")
    if dtype is not None:
        x, y = x.to(dtype), y.to(dtype)
    return x, y


def _read_csv(path: Path, y_column: int) -> tuple[np.ndarray, np.ndarray]:
    with open(path, encoding="utf-8") as f:
        lines = [ln.strip() for ln in f if ln.strip()]
    if lines and _is_header(lines[0]):
        lines = lines[1:]
    if not lines:
        raise ConfigError(f"{path}: no data rows")
    rows = [ln.split(",") for ln in lines]
    width = len(rows[0])
    for k, r in enumerate(rows):
        if len(r) != width:
            raise ConfigError(f"{path}: row {k + 1} has {len(r)} columns, the first has {width}")
    try:
        a = np.array(rows, dtype=float)  # (N, width)
    except ValueError as e:
        raise ConfigError(f"{path}: not a table of numbers ({e})") from None
    if width < 2:
        raise ConfigError(f"{path}: needs at least two columns (x..., y)")
    if not -width <= y_column < width:
        raise ConfigError(f"{path}: y_column {y_column} out of range for {width} columns")
    yc = y_column % width
    return np.delete(a, yc, axis=1), a[:, yc]


def _is_header(line: str) -> bool:
    try:
        [float(v) for v in line.split(",")]
    except ValueError:
        return True
    return False


def load_xy(
    path: str | os.PathLike,
    *,
    x_key: str = "x",
    y_key: str = "y",
    y_column: int = -1,
    dtype: torch.dtype = torch.float64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x (N, d), y (N,)) from a ``.csv`` (y in column ``y_column``) or ``.npz`` (arrays ``x_key``, ``y_key``)."""
    p = Path(path)
    if p.suffix.lower() not in DATA_SUFFIXES:
        raise ConfigError(f"{p}: data files must be .csv or .npz, got {p.suffix or 'no suffix'!r}")
    if not p.is_file():
        raise ConfigError(f"{p}: no such data file")
    if p.suffix.lower() == ".csv":
        x, y = _read_csv(p, y_column)
    else:
        try:
            with np.load(p, allow_pickle=False) as z:
                missing = [k for k in (x_key, y_key) if k not in z.files]
                if missing:
                    raise ConfigError(f"{p}: no array {missing[0]!r} (arrays: {', '.join(z.files) or 'none'})")
                x, y = z[x_key], z[y_key]
        except (ValueError, OSError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"{p}: not a readable .npz file ({str(e).splitlines()[0]})") from None
        if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number)):
            raise ConfigError(f"{p}: arrays {x_key!r} and {y_key!r} must be numeric")
    xt, yt = _xy_check(torch.as_tensor(np.asarray(x, dtype=float)), torch.as_tensor(np.asarray(y, dtype=float)), str(p))
    return xt.to(dtype), yt.to(dtype)


def stack_samples(pairs, cache: dict | None, key: str, dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
    """E fixed samples (x (N, d), y (N,)) stacked as (E, N, d), (E, N) on ``device``; kept in ``cache``."""
    k = (key, dtype, str(device))
    if cache is not None and k in cache:
        return cache[k]
    if len({x.shape for x, _ in pairs}) != 1:
        raise ValueError("EnsembleRisk: every member needs a test sample / data set of the same size")
    out = tuple(torch.stack([p[i] for p in pairs]).to(dtype=dtype, device=device) for i in (0, 1))
    if cache is not None:
        cache[k] = out
    return out  # type: ignore[return-value]


def draw(samplers, B: int, generators, dtype, device, cache: dict | None = None) -> torch.Tensor:
    """B fresh samples of each of E samplers, x (E, B, d), sampler e with ``generators[e]``.

    Gaussian and sphere samplers (:mod:`wgflow.tasks.teacher`, tagged with their law) of one law draw each
    member's N(0, I) block from its generator and are normalised in one batched operation (the numbers of
    drawing member by member); other samplers are called member by member.
    """
    if cache is None or "laws" not in cache:  # once per run: a set comprehension per step costs a small step 15%
        laws = {tuple(getattr(s, a, None) for a in ("law", "d", "radius")) for s in samplers}
        if cache is None:
            cache = {}
        cache["laws"] = laws
    kw = {} if device.type == "cpu" else {"device": device}
    law, d, radius = next(iter(cache["laws"]))
    if len(cache["laws"]) == 1 and (law == "gaussian" or (law == "sphere" and radius is not None)):
        x = torch.stack([torch.randn(B, d, generator=g, dtype=dtype, **kw) for g in generators])
        return radius * x / x.norm(dim=-1, keepdim=True) if law == "sphere" else x
    return torch.stack([s(B, generator=g, dtype=dtype, **kw) for s, g in zip(samplers, generators)])
