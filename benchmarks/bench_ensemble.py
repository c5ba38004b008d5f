"""Ensembles vs member-by-member flows on the RVE sigmoid SGD sweep, and a quick run under contention.

    python benchmarks/bench_ensemble.py [--steps 200] [--targets 10] [--dtype float32] [--device cpu]
    python benchmarks/bench_ensemble.py --paper-estimate     # rve-3spin's paper preset, extrapolated
    python benchmarks/bench_ensemble.py --estimate full      # any rve-3spin preset, extrapolated
    python benchmarks/bench_ensemble.py --no-contention --compile   # the sweep only, and compiled ensembles

1. The sweep of rve-3spin's sigmoid variant (d = 10, n = 32 ... 1024, 10 targets, P = n/5, a fixed
   number of SGD steps): every (n, target) flow run alone with ``wg.train``, then each width as one
   ensemble of the 10 targets (``wg.train(Ensemble, [objectives])``). Both use wgflow's automatic
   thread choice; each timing is the fastest of ``--repeats`` alternating runs. Prints the per-width
   times and the ratio; the last line is ``speedup X.XX``.
2. A quick experiment (rve-3spin, quick preset scaled to ``--quick-steps``) timed alone, then while a
   busy process started by this script spins on one core; prints the slowdown (target <= 2.5).

Times are wall-clock seconds of one run each on this machine (shared: rerun for a second sample).
The "max rel. gap of final losses" between a member and its single flow is rounding amplified by the
flow itself: at n = 32 (P = 6, eta = 1) a float64 gap grows from 2e-16 after 10 steps to 8e-9 after
100, a float32 one from 1e-7 to 3e-2; wider networks amplify less.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import time

import torch

import wgflow as wg
from wgflow.flows import Ensemble
from wgflow.tasks.three_spin import ThreeSpin

N_VALUES = (32, 64, 128, 256, 512, 1024)


def _problem(d, n, targets, dtype, n_test):
    fs = [ThreeSpin.random(d, seed=k) for k in range(targets)]
    objs = [wg.OnlineRisk(f.sampler(), f, n_test=n_test, test_seed=k + 7) for k, f in enumerate(fs)]
    unit = wg.Sigmoid(d)
    mus = [
        wg.ParticleMeasure(unit.init(n, generator=torch.Generator().manual_seed(k + 1000 * n), dtype=dtype), unit)
        for k in range(targets)
    ]
    return mus, objs


def _timed(run):
    """(result, wall seconds, CPU seconds of this process: all its threads)."""
    w, c = time.perf_counter(), time.process_time()
    out = run()
    return out, time.perf_counter() - w, time.process_time() - c


def sweep(steps, targets, dtype, device, d=10, n_test=2000, repeats=3, compile=False):
    """Rows (n, member-by-member s, ensemble s, gap) per width, each the fastest of ``repeats`` alternating runs.

    Also prints CPU seconds (a loaded machine inflates wall time, less so CPU time) and, with ``compile``,
    the ensemble run with ``compile=True`` (after one untimed run that compiles).
    """
    rows = []
    for n in N_VALUES:
        mus, objs = _problem(d, n, targets, dtype, n_test)
        cfg = wg.FlowConfig(eta=1.0, steps=steps, batch_size=n // 5, risk_every=steps, n_snapshots=2)
        for o in objs:  # build the test sets outside the timings
            o.test_set(dtype)
        one, ens, comp, gap, t_compile = _width(mus, objs, cfg, device, repeats, compile)
        (w1, c1), (w2, c2) = min(one), min(ens)
        w0 = min(_timed(functools.partial(handwritten, mus, objs, cfg))[1] for _ in range(repeats))
        rows.append((n, w1, w2, gap, w0))
        extra = f"   compiled {min(comp):6.2f} s (compiling {t_compile - min(comp):.0f} s)" if compile else ""
        extra += f"   hand-written loop {w0:6.2f} s"
        print(
            f"n = {n:5d}: member by member {w1:8.2f} s (CPU {c1:6.2f})   ensemble of {targets} {w2:7.2f} s "
            f"(CPU {c2:6.2f})   ratio {w1 / w2:6.2f}   (max rel. gap of final losses {gap:.1e}){extra}",
            flush=True,
        )
    return rows


def _width(mus, objs, cfg, device, repeats, compile):
    """(wall, CPU) seconds of every repeat: member by member, ensemble; compiled wall seconds; gap; compile run."""

    def single():
        return [wg.train(mu, o, cfg, seed=k, device=device) for k, (mu, o) in enumerate(zip(mus, objs))]

    def ensemble(compiled=False):
        kw = {"compile": True} if compiled else {}
        return wg.train(Ensemble.stack(mus), objs, cfg, seed=0, device=device, **kw)

    t_compile = _timed(lambda: ensemble(True))[1] if compile else 0.0
    one, ens, comp = [], [], []
    for _ in range(repeats):  # alternate and keep the fastest of each: the machine is shared
        singles, *t1 = _timed(single)
        members, *t2 = _timed(ensemble)
        one.append(t1)
        ens.append(t2)
        if compile:
            comp.append(_timed(lambda: ensemble(True))[1])
    gap = max(abs(a.risk[-1] - b.risk[-1]) / a.risk[-1] for a, b in zip(singles, members))
    return one, ens, comp, gap, t_compile


def handwritten(mus, objs, cfg):
    """What a researcher would otherwise write: per target, parameters c, w, b, an autograd loss on fresh samples
    and a plain SGD update at the mean-field rate (theta_i -= eta n dL/dtheta_i, the particle step of wg.train),
    test risk before and after. Same work as one member of the sweep; returns (initial, final) risks."""
    out = []
    for k, (mu, obj) in enumerate(zip(mus, objs)):
        n, B, eta = mu.n, cfg.batch_size, cfg.eta
        c, w, b = (t.clone().requires_grad_() for t in (mu.theta[:, 0], mu.theta[:, 1:-1], mu.theta[:, -1]))
        g, xt, yt = torch.Generator().manual_seed(k), *obj.test_set(mu.theta.dtype)

        def net(x, c=c, w=w, b=b):
            return (c * torch.sigmoid(x @ w.T + b)).mean(1)

        with torch.no_grad():
            risk0 = float(0.5 * ((net(xt) - yt) ** 2).mean())  # as wg.train, which records the initial risk
        for _ in range(cfg.steps):
            x = obj.sampler(B, generator=g, dtype=mu.theta.dtype)
            loss = 0.5 * ((net(x) - obj.target(x)) ** 2).mean()
            grads = torch.autograd.grad(loss, (c, w, b))
            with torch.no_grad():
                for t, gt in zip((c, w, b), grads):
                    t.sub_(eta * n * gt)
        with torch.no_grad():
            out.append((risk0, float(0.5 * ((net(xt) - yt) ** 2).mean())))
    return out


def preset_estimate(preset, device):
    """Wall time of an rve-3spin preset extrapolated from measured ensemble step times.

    Every flow the preset trains (:func:`wgflow.experiments.rve_3spin.train.step_plan`: SGD, quench, its
    two controls, the fixed-step control, the batch-law runs, the RBF flows) at the preset's dtype, targets
    and step rules. A step's time is the difference of two runs (1 and 1 + k steps) divided by k, so fixed
    costs (the first and last evaluation, setup) cancel; flows with the same (unit, d, n, P) share one timing.
    Prints the wall-clock total and the CPU-time total (all threads of this process): on a loaded machine the
    wall time counts the waits for a core, the CPU time does not.
    """
    from wgflow.experiments import make_config
    from wgflow.experiments.rve_3spin.train import step_plan

    cfg = make_config("rve-3spin", preset)
    steps: dict = {}
    for f in step_plan(cfg):
        key = (f.unit, f.d, f.n, f.batch)
        steps[key] = steps.get(key, 0) + f.steps
    total, cpu, by_stage = 0.0, 0.0, {}
    for key, count in steps.items():
        t, c = _step_time(cfg, *key, device)
        total, cpu = total + count * t, cpu + count * c
        stage = f"{key[0]}-d{key[1]}-n{key[2]}"
        by_stage[stage] = by_stage.get(stage, 0.0) + count * t
        print(
            f"{preset}: {stage} P = {key[3]:6d}: {1e3 * t:8.2f} ms/step (CPU {1e3 * c:8.2f}) x {count:8d} "
            f"-> {count * t / 3600:6.2f} h",
            flush=True,
        )
    for stage, s in by_stage.items():
        print(f"{preset}: stage {stage}: {s / 3600:.2f} h", flush=True)
    print(
        f"{preset} preset ({cfg.targets} targets as ensembles, {torch.get_num_threads()} threads, load average "
        f"{os.getloadavg()[0]:.1f}): extrapolated {total / 3600:.2f} h wall, {cpu / 3600:.2f} h CPU",
        flush=True,
    )
    return total


def _step_time(cfg, unit, d, n, batch, device):
    """(wall, CPU) seconds per step of the ensemble of cfg.targets flows of one (unit, d, n, batch)."""
    from wgflow.measures.units import RBFSphere

    T = cfg.targets
    fs = [ThreeSpin.random(d, seed=k) for k in range(T)]
    if unit == "sigmoid":
        dtype = getattr(torch, cfg.dtype)
        mus, objs = _problem(d, n, T, dtype, 1000)
        flow = wg.FlowConfig(eta=cfg.eta, steps=1, batch_size=batch, risk_every=10**9, n_snapshots=2)
    else:
        dtype, u = getattr(torch, cfg.rbf_dtype), RBFSphere(d)
        xs = [f.sampler()(batch, generator=torch.Generator().manual_seed(k), dtype=dtype) for k, f in enumerate(fs)]
        objs = [wg.DatasetRisk(x, f(x)) for x, f in zip(xs, fs)]
        mus = [
            wg.ParticleMeasure(u.init(n, generator=torch.Generator().manual_seed(k), dtype=dtype), u) for k in range(T)
        ]
        flow = wg.FlowConfig(
            eta=cfg.rbf_eta, eta_inner=cfg.rbf_eta_inner, steps=1, noise=cfg.rbf_noise, risk_every=10**9, n_snapshots=2
        )
    k = int(max(2, min(40, 4e7 / (T * batch * n))))
    run = lambda steps: wg.train(Ensemble.stack(mus), objs, flow, seed=0, device=device, steps=steps)
    run(1)  # warm-up
    (_, w1, c1), (_, w2, c2) = _timed(lambda: run(1)), _timed(lambda: run(1 + k))
    return max(0.0, w2 - w1) / k, max(0.0, c2 - c1) / k


def quick_run(steps):
    from wgflow.experiments import run_experiment

    t0 = time.perf_counter()
    run_experiment(
        "rve-3spin", "quick", {"sgd_steps": steps, "quench_steps": steps // 4, "rbf": False, "n_test": 4000}, seed=0
    )
    return time.perf_counter() - t0


def contention(steps):
    quick_run(max(4, steps // 10))  # untimed warm-up: imports, first-call costs (else "alone" is the slower run)
    alone = quick_run(steps)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        loaded = quick_run(steps)
    finally:
        busy.kill()
        busy.wait()
    print(
        f"quick rve-3spin ({steps} SGD steps, quick preset: d = 10, n = 32..256, 5 targets as ensembles, no RBF): "
        f"alone {alone:.2f} s, with one busy process {loaded:.2f} s, slowdown {loaded / alone:.2f} (target <= 2.5)",
        flush=True,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--targets", type=int, default=10)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick-steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3, help="alternating repeats of each timing (fastest kept)")
    p.add_argument("--paper-estimate", action="store_true", help="only extrapolate the paper preset's wall time")
    p.add_argument("--estimate", metavar="PRESET", help="only extrapolate this rve-3spin preset's wall time")
    p.add_argument("--no-contention", action="store_true", help="skip the quick run under contention")
    p.add_argument("--compile", action="store_true", help="also time the ensembles with compile=True")
    a = p.parse_args(argv)
    dtype = getattr(torch, a.dtype)
    if a.paper_estimate or a.estimate:
        return preset_estimate(a.estimate or "paper", a.device)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads available, d = 10, P = n/5, "
        f"{a.steps} SGD steps, {a.targets} targets, {a.dtype}, device {a.device}",
        flush=True,
    )

    if not a.no_contention:
        contention(a.quick_steps)
    rows = sweep(a.steps, a.targets, dtype, a.device, repeats=a.repeats, compile=a.compile)
    single = sum(r[1] for r in rows)
    ens = sum(r[2] for r in rows)
    print(f"sweep total: member by member {single:.2f} s, as ensembles {ens:.2f} s")
    print(f"per step of the whole sweep: {1e3 * single / a.steps:.2f} ms vs {1e3 * ens / a.steps:.2f} ms")
    hand = sum(r[4] for r in rows)
    print(f"hand-written PyTorch loop (autograd, target by target): {hand:.2f} s, {hand / ens:.2f}x the ensembles")
    print(f"speedup {single / ens:.2f}")


if __name__ == "__main__":
    main()
