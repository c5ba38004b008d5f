"""Start-up time of the console script: ``wgflow --help`` and ``wgflow list`` against ``python -c pass``.

Target: ``wgflow --help`` in under a second, i.e. a small multiple of the interpreter's own start.
Each command runs ``--repeat`` times, alternating with the baseline in the same process so that both
see the same machine load; the line reports the medians and their ratio (no absolute threshold is
asserted: this is a measurement, not a timed test).

Usage::

    python benchmarks/bench_cli.py             # 7 repeats
    python benchmarks/bench_cli.py --repeat 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
CASES = {
    "python -c pass": ["-c", "pass"],
    "wgflow --help": ["-c", "import sys; from wgflow.cli import main; sys.argv=['wgflow','--help']; main()"],
    "wgflow list": ["-c", "import sys; from wgflow.cli import main; sys.exit(main(['list']))"],
}


def _time(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    times: dict[str, list[float]] = {k: [] for k in CASES}
    for _ in range(a.repeat):
        for name, args in CASES.items():  # interleaved: the same load for every case
            times[name].append(_time(args, env))
    base = statistics.median(times["python -c pass"])
    for name in CASES:
        med = statistics.median(times[name])
        print(f"{name:<16} median {med * 1000:7.1f} ms   ratio to `python -c pass`: {med / base:5.1f}x")


if __name__ == "__main__":
    main()
