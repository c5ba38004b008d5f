"""Time and peak memory of every wgflow.wasserstein method, and the largest n each handles in 10 s and 4 GB.

Each (method, n, d) case runs in its own subprocess so its peak resident memory (ru_maxrss)
is its own; "CPU s" is the process CPU time of the call (user + system, all threads), which on a shared
machine is steadier than the wall-clock "seconds" that the 10 s limit is judged on. The peak
includes the two input clouds (2 n d float64 values: 1.6 GB at n = 10^6, d = 100). Clouds: x ~ N(0, I_d), y ~ 1.2 N(0, I_d) + 0.5, n points each, NumPy float64.
A method stops growing n after its first case over the limits; "exact" is not run where its
two (n, n) float64 matrices alone exceed the memory limit. "1d" runs on d = 1 (its domain).

Usage::

    python benchmarks/bench_transport.py            # n = 10^3 ... 10^6 (1-2-5 grid), d = 10 and 100 (~10 min)
    python benchmarks/bench_transport.py --quick    # n = 10^3, 10^4 (about a minute)
    python benchmarks/bench_transport.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

LIMIT_S = 10.0  # the time budget of the issue
LIMIT_MB = 4096.0  # the memory budget of the issue
TIMEOUT_S = 60.0  # a case (data generation included) is killed here; past LIMIT_S it already fails
NS = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000]  # 1-2-5 grid
QUICK_NS = [1_000, 10_000]
METHODS = [("exact", (10, 100)), ("sliced", (10, 100)), ("sinkhorn", (10, 100)), ("auto", (10, 100)), ("1d", (1,))]


def _worker(method: str, n: int, d: int) -> dict:
    import resource
    import warnings

    import torch

    import wgflow.transport as wt

    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d, generator=g, dtype=torch.float64).numpy()
    y = torch.randn(n, d, generator=g, dtype=torch.float64).mul_(1.2).add_(0.5).numpy()  # in place: no temporaries
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wt.ApproximationWarning)
        t0, c0 = time.perf_counter(), time.process_time()
        value, info = wt.wasserstein(x, y, method=method, return_info=True)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": method, "n": n, "d": d, "seconds": seconds, "cpu_s": cpu, "peak_mb": peak_mb, "input_mb": 2 * x.nbytes / 2**20,
            "before_mb": base_mb, "value": float(value), "used": info.method, "options": info.options}


def _run_case(method: str, n: int, d: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", method, str(n), str(d)]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"method": method, "n": n, "d": d, "seconds": None, "peak_mb": None,
                "status": f"killed at {TIMEOUT_S:.0f} s"}
    if out.returncode != 0:
        err = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"method": method, "n": n, "d": d, "seconds": None, "peak_mb": None, "status": f"error: {err}"}
    res = json.loads(out.stdout.strip().splitlines()[-1])
    ok = res["seconds"] <= LIMIT_S and res["peak_mb"] <= LIMIT_MB
    res["status"] = "ok" if ok else "over limit"
    res["wall_s"] = time.perf_counter() - t0
    return res


def _subsample_note() -> str:
    """Why "auto" does not subsample: W2 between two disjoint halves of ONE cloud (true W2 = 0)."""
    import numpy as np

    import wgflow.transport as wt

    rng = np.random.default_rng(0)
    lines = []
    for d in (10, 100):
        z = rng.normal(size=(4000, d))
        ex = wt.wasserstein(z[:2000], z[2000:], method="exact")
        sl = wt.wasserstein(z[:2000], z[2000:], method="sliced")
        lines.append(f"d={d}: exact W2 of two disjoint 2000-point halves of one N(0, I) cloud = {ex:.2f} "
                     f"(true 0; population scale sqrt(d) = {np.sqrt(d):.1f}); sliced = {sl:.3f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", nargs=3, metavar=("METHOD", "N", "D"), help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="n in {10^3, 10^4} only")
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--methods", help="comma-separated subset of methods (default: all)")
    args = ap.parse_args()
    if args.worker:
        m, n, d = args.worker
        print(json.dumps(_worker(m, int(n), int(d))))
        return
    ns = QUICK_NS if args.quick else NS
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# wgflow.wasserstein: time and peak memory (limits {LIMIT_S:.0f} s, {LIMIT_MB / 1024:.0f} GB); "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start\n")
    print("| method | d | n | seconds | CPU s | peak MB (inputs) | used | value | status |")
    print("|---|---|---|---|---|---|---|---|---|")
    results = []
    methods = [(m, ds) for m, ds in METHODS if not args.methods or m in args.methods.split(",")]
    for method, dims in methods:
        for d in dims:
            for n in ns:
                if method == "exact" and 2 * 8 * n * n / 2**20 > LIMIT_MB:
                    res = {"method": method, "n": n, "d": d, "seconds": None, "peak_mb": None,
                           "status": f"not run: (n, n) cost and plan need {2 * 8 * n * n / 2**30:.0f} GB"}
                else:
                    res = _run_case(method, n, d)
                results.append(res)
                sec = "-" if res.get("seconds") is None else f"{res['seconds']:.2f}"
                cpu = "-" if res.get("cpu_s") is None else f"{res['cpu_s']:.2f}"
                mem = "-" if res.get("peak_mb") is None else f"{res['peak_mb']:.0f} ({res['input_mb']:.0f})"
                val = "-" if "value" not in res else f"{res['value']:.4f}"
                used = res.get("used", "-")
                print(f"| {method} | {d} | {n:.0e} | {sec} | {cpu} | {mem} | {used} | {val} | {res['status']} |",
                      flush=True)
                if res["status"] != "ok":
                    break  # larger n only costs more
    print("\n## Largest n handled within the limits\n")
    for method, dims in methods:
        for d in dims:
            ok = [r["n"] for r in results if r["method"] == method and r["d"] == d and r["status"] == "ok"]
            print(f"- {method}, d = {d}: " + (f"n = {max(ok):.0e}" if ok else f"none of n >= {ns[0]:.0e}"))
    print("\n## Why auto does not subsample the exact solver\n")
    print(_subsample_note())
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
