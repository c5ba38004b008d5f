"""One SGD step of a mean-field ReLU network: wgflow vs plain PyTorch, time and peak memory.

The baseline is what a researcher writes by hand: an ``nn.Module`` whose output
is divided by the width n, autograd, and ``torch.optim.SGD`` with the step
multiplied by n (mean-field time). Both do the same mathematics (square loss,
fresh Gaussian batch, ReLU units with output weights). Each (implementation,
size) runs in its own subprocess so the peak resident memory (ru_maxrss) is
its own; the ratio baseline/wgflow is measured in the same run.

Usage::

    python benchmarks/bench_core.py            # the issue's three sizes + the 10^6-particle memory check
    python benchmarks/bench_core.py --quick    # small sizes (seconds)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

SIZES = [(1024, 10_000, 20), (1024, 10_000, 100), (1024, 100_000, 100)]
BIG = (1024, 1_000_000, 100)


def _worker(impl: str, B: int, n: int, d: int, reps: int) -> dict:
    import resource

    import torch

    torch.manual_seed(0)
    eta = 0.1
    x = torch.randn(B, d)
    y = torch.randn(B)
    if impl == "wgflow":
        import wgflow as wg

        unit = wg.ReLU(d)
        mu = wg.ParticleMeasure(unit.init(n, generator=torch.Generator().manual_seed(0)), unit)
        obj = wg.DatasetRisk(x, y)
        theta = mu.theta

        def step():
            nonlocal theta
            _, G = obj.value_and_grad(mu.with_theta(theta, check=False))
            theta = theta - eta * G

    else:

        class MeanField(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.randn(n, d) / d**0.5)
                self.c = torch.nn.Parameter(torch.randn(n))

            def forward(self, x):
                return torch.relu(x @ self.w.T) @ self.c / n

        model = MeanField()
        opt = torch.optim.SGD(model.parameters(), lr=eta * n)

        def step():
            opt.zero_grad()
            loss = 0.5 * ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(reps):
        step()
    dt = (time.perf_counter() - t) / reps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    return {"impl": impl, "B": B, "n": n, "d": d, "step_s": dt, "peak_mib": peak}


def run(impl, B, n, d, reps):
    out = subprocess.run(
        [sys.executable, __file__, "--worker", impl, str(B), str(n), str(d), str(reps)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return {"impl": impl, "B": B, "n": n, "d": d, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker", nargs=5)
    ap.add_argument("--no-big", action="store_true", help="skip the 10^6-particle memory check")
    args = ap.parse_args(argv)
    if args.worker:
        impl, B, n, d, reps = args.worker
        print(json.dumps(_worker(impl, int(B), int(n), int(d), int(reps))))
        return 0
    sizes = [(256, 2000, 20), (256, 2000, 100)] if args.quick else SIZES
    print(f"{'(B, n, d)':>22} {'wgflow s':>10} {'torch s':>10} {'speed-up':>9} {'wgflow MiB':>11} {'torch MiB':>10}")
    rows = []
    for B, n, d in sizes:
        reps = 3 if n >= 100_000 else 10
        a, b = run("wgflow", B, n, d, reps), run("torch", B, n, d, reps)
        ratio = b["step_s"] / a["step_s"]
        rows.append({"size": [B, n, d], "wgflow": a, "torch": b, "speedup": ratio})
        print(
            f"{(B, n, d)!s:>22} {a['step_s']:10.4f} {b['step_s']:10.4f} {ratio:9.2f} {a['peak_mib']:11.0f} {b['peak_mib']:10.0f}"
        )
    if not args.quick and not args.no_big:
        a = run("wgflow", *BIG, 1)
        print(
            f"{BIG!s:>22} {a.get('step_s', float('nan')):10.3f} {'-':>10} {'-':>9} {a.get('peak_mib', float('nan')):11.0f}   (memory check: < 4096 MiB)"
        )
        rows.append({"size": list(BIG), "wgflow": a})
    worst = min(r["speedup"] for r in rows if "speedup" in r)
    print(f"slowest ratio torch/wgflow = {worst:.2f} (>= 1 means wgflow is not slower)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
