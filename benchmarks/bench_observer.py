"""Overhead of ``wg.interop.watch`` on a user's own training step (target: < 5 % at every=10, n = 10^4).

The user's step is a plain PyTorch loop: ``nn.Sequential(nn.Linear(d, n), nn.ReLU(), nn.Linear(n, 1))``,
square loss on a fixed batch of size B, ``torch.optim.Adam``. The same loop runs with and without
``obs.step(loss)`` in alternating blocks in one process on one thread, so the ratio compares like with
like; the overhead is the median over blocks of (time with observer) / (time without) - 1. On a
shared machine that ratio carries the load's noise (a few %), so the time spent inside ``obs.step``
relative to the plain step time is reported too: it is the observer's own cost, measured directly. ``fixed`` snapshots every observed
step is the observer's worst case; ``log`` is its default.

Usage::

    python benchmarks/bench_observer.py            # n = 10^4, d = 20, B = 256, every = 10
    python benchmarks/bench_observer.py --quick    # a smaller network (seconds)
"""

from __future__ import annotations

import argparse
import statistics
import time


def _setup(n: int, d: int, B: int):
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(d, n), nn.ReLU(), nn.Linear(n, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(B, d), torch.randn(B)

    def step():
        loss = ((model(x).squeeze(1) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    return model, step


def _block(step, steps: int, obs=None) -> tuple[float, float]:
    """(wall time of the block, time spent inside obs.step)."""
    inside = 0.0
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
        if obs is not None:
            t1 = time.perf_counter()
            obs.step(loss)
            inside += time.perf_counter() - t1
    return time.perf_counter() - t0, inside


def measure(n: int, d: int, B: int, every: int, schedule: str, blocks: int, steps: int) -> dict:
    import wgflow as wg

    model, step = _setup(n, d, B)
    obs = wg.interop.watch(model, every=every, snapshots=schedule)
    _block(step, steps)  # warm-up
    ratios, plain_times, inside = [], [], []
    for _ in range(blocks):
        plain, _ = _block(step, steps)
        watched, spent = _block(step, steps, obs)
        ratios.append(watched / plain)
        plain_times.append(plain / steps)
        inside.append(spent / plain)
    return {
        "n": n,
        "d": d,
        "B": B,
        "every": every,
        "snapshots": schedule,
        "step_ms": 1e3 * statistics.median(plain_times),
        "overhead": statistics.median(ratios) - 1,
        "inside": statistics.median(inside),
        "snapshots_kept": len(obs._snaps),
    }


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    n, d, B, blocks, steps = (1000, 10, 64, 5, 40) if args.quick else (10_000, 20, 256, 15, 30)
    for schedule in ("log", "fixed"):
        r = measure(n, d, B, 10, schedule, blocks, steps)
        verdict = "ok" if max(r["overhead"], r["inside"]) < 0.05 else "ABOVE TARGET"
        print(
            f"watch overhead  n={r['n']} d={r['d']} B={r['B']} every={r['every']} snapshots={r['snapshots']:<5} "
            f"step {r['step_ms']:.2f} ms  ratio-1 {100 * r['overhead']:+.2f} %  inside obs.step "
            f"{100 * r['inside']:.3f} %  (target < 5 %: {verdict}; {r['snapshots_kept']} snapshots kept)",
            flush=True,
        )


if __name__ == "__main__":
    main()
