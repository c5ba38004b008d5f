"""``wgflow run`` and ``wgflow reproduce``: the commands that execute experiments and record them."""

from __future__ import annotations

import json
import sys
import time

from ..domains import check_seed
from ..errors import ConfigError
from ..harness import get_experiment, list_experiments, make_config
from ..plotting.verdicts import VERDICTS, tally
from ..report import write_report
from ..report.numbers import fmt, fmt_duration
from .args import (
    check_runtime,
    log,
    open_store,
    overrides,
    preset_args,
    progress_arg,
    runtime_args,
    seed_arg,
    sets_arg,
    show_progress,
    store_arg,
    untrained_arg,
)
from .progress import Heartbeat, estimate_left, previous_durations, progress_line
from .show import interval_text, null_text

__all__ = ["add_run", "add_reproduce"]


def add_run(sub) -> None:
    p = sub.add_parser("run", help="run one experiment and record it in the store")
    p.add_argument(
        "name", nargs="?", help="experiment name (see `wgflow list`) or a .py file defining one; optional with --resume"
    )
    preset_args(p)
    sets_arg(p, "override a config key (repeatable)")
    seed_arg(p)
    store_arg(p)
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run with its stored config and seed")
    p.add_argument(
        "--force",
        action="store_true",
        help="with --resume: take over a run whose recorded process is alive but is not wgflow",
    )
    p.add_argument(
        "--checkpoint-every", type=int, default=200, metavar="K", help="checkpoint flows every K steps (default 200)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
    untrained_arg(p)
    strict_arg(p)
    runtime_args(p)
    progress_arg(p)
    p.add_argument(
        "--compile",
        action="store_true",
        help="run ensembles' steps through torch.compile (it compiles first; see README; default off)",
    )
    p.set_defaults(func=_cmd_run)


def _print_outcome(out, as_json: bool) -> None:
    if as_json:
        print(json.dumps(out.to_dict(), default=str))
        return
    print("\n".join(outcome_lines(out)))


def outcome_lines(out) -> list[str]:
    """A finished run for the terminal: its verdict count, then its claims, evidence first, each
    with its interval, its null (same rule) and why it is not registered, if it is not."""
    claims = out.result.claims
    lines = [
        f"{out.experiment} {out.run_id}: {out.status}"
        + (" (untrained control)" if out.untrained else "")
        + (f": {tally(c.verdict for c in claims)}" if out.status == "completed" else "")
    ]
    for c in sorted(claims, key=lambda c: VERDICTS.index(c.verdict)):
        lines.append(
            f"  [{c.verdict.upper()}] {c.name}: measured {fmt(c.measured, max_len=60)}{interval_text(c.ci)}, "
            f"expected {c.expected}"
        )
        if c.null is not None:
            lines.append(f"      {null_text(c.null.to_dict())}")
        elif c.control is not None:
            lines.append(f"      control {fmt(c.control, max_len=40)}")
        if c.registered is False and not c.posthoc:
            lines.append(f"      {c.registration}")
    return lines


def strict_arg(p) -> None:
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when the run completes but a registered claim fails (for CI; default: exit 0 whatever the claims)",
    )


def failed_registered(verdicts_and_registered) -> int:
    """How many registered claims failed (``(passed, registered)`` pairs)."""
    return sum(1 for passed, registered in verdicts_and_registered if registered and not passed)


def _cmd_run(args) -> int:
    from ..harness.runner import EXIT_CLAIMS, EXIT_OK, execute  # torch: not for --help or the other commands

    if args.name is None and args.resume is None:
        raise ConfigError("run needs an experiment NAME (see `wgflow list`) or --resume RUN_ID")
    sets = overrides(args)
    if args.resume and (sets or args.seed != 0 or args.untrained):
        raise ConfigError(
            "--resume uses the stored config, seed and control flag; drop --set/--config/--seed/--untrained"
        )
    if args.force and not args.resume:
        raise ConfigError("--force only applies to --resume RUN_ID")
    check_seed(args.seed)
    if args.resume is None:  # validate before the store is even opened: a bad config writes nothing
        make_config(args.name, args.preset, sets)
    if args.checkpoint_every < 1:
        raise ConfigError(f"--checkpoint-every must be a positive integer, got {args.checkpoint_every}")
    check_runtime(args)
    log.debug(
        f"wgflow: run {args.name or args.resume} preset {args.preset}, seed {args.seed}, overrides {sets}, "
        f"device {args.device or 'default'}, threads {args.threads or 'auto'}"
    )
    store = open_store(args, must_exist=f"no run {args.resume!r} to resume" if args.resume else None)
    from ..flows.runtime import use  # torch: imported once the run is validated, as the runner is

    with use(compile=args.compile):  # ensembles only: single flows stay eager
        out = execute(
            args.name,
            args.preset,
            sets,
            seed=args.seed,
            store=store,
            resume=args.resume,
            checkpoint_every=args.checkpoint_every,
            show_progress=show_progress(args),
            untrained=args.untrained,
            force=args.force,
            device=args.device,
            threads=args.threads,
        )
    if out.message:
        print(f"wgflow: run {out.run_id} {out.status}: {out.message}", file=sys.stderr)
    _print_outcome(out, args.json)
    if (
        args.strict
        and out.exit_code == EXIT_OK
        and failed_registered((c.passed, c.registered) for c in out.result.claims)
    ):
        print(f"wgflow: --strict: a registered claim of run {out.run_id} failed", file=sys.stderr)
        return EXIT_CLAIMS
    return out.exit_code


# --------------------------------------------------------------------------- reproduce
def add_reproduce(sub) -> None:
    p = sub.add_parser("reproduce", help="run every registered experiment (or those named), then write the report")
    p.add_argument("names", nargs="*", metavar="NAME", help="experiments to run (default: all; see `wgflow list`)")
    preset_args(p)
    seed_arg(p)
    store_arg(p)
    p.add_argument("--out", metavar="FILE", help="report file (default: <store>/report.html)")
    untrained_arg(p)
    strict_arg(p)
    p.add_argument(
        "--heartbeat",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="when stderr is not a terminal, say which experiment is running every SECONDS (default 60)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run N experiments at a time, each in its own process with cores/N torch threads "
        "(default 1; `make demo` uses 2 on a 2-core machine)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object on stdout: each experiment's run id, status, exit code and claim verdicts, the "
        "totals by verdict and the report's path (the outcomes go to stderr)",
    )
    runtime_args(p)
    progress_arg(p)
    p.set_defaults(func=_cmd_reproduce)


def _cmd_reproduce(args) -> int:
    from ..harness.runner import EXIT_CLAIMS, EXIT_OK  # torch: not for --help or the other commands

    check_seed(args.seed)
    if not args.heartbeat > 0:
        raise ConfigError(f"--heartbeat must be a positive number of seconds, got {args.heartbeat}")
    check_runtime(args)
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be a positive integer, got {args.jobs}")
    exps = _chosen_experiments(args)
    store = open_store(args)
    known, t0 = previous_durations(store.runs(), args.preset, args.untrained), time.monotonic()
    run_all = _reproduce_in_parallel if args.jobs > 1 else _reproduce_in_turn
    code, records, failed = run_all(args, store, [x.name for x in exps], known)
    if code in (130, 143):
        return code
    path = write_report(store, args.out or store.root / "report.html")
    verdicts = [c["verdict"] for r in records for c in r["claims"]]
    log.info(
        f"wgflow: {len(exps)} experiments in {fmt_duration(time.monotonic() - t0)}: {tally(verdicts)}"
        + (" (untrained control: none should pass)" if args.untrained else "")
    )
    if args.json:
        totals = {v: verdicts.count(v) for v in VERDICTS}
        print(json.dumps({"experiments": records, "totals": totals, "report": str(path)}, default=str))
    else:
        print(path)
    if args.strict and code == EXIT_OK and failed:
        print(f"wgflow: --strict: {failed} registered claim(s) failed", file=sys.stderr)
        return EXIT_CLAIMS
    return code


def _chosen_experiments(args) -> list:
    """The experiments named (default: all) that have ``args.preset``; the others are skipped with a
    line. No experiment with that preset, or an unknown name, is a ConfigError before the store opens."""
    chosen = [get_experiment(n) for n in dict.fromkeys(args.names)] if args.names else None  # unknown: exit 2
    everyone = chosen or list_experiments()
    exps = [exp for exp in everyone if args.preset in exp.presets]
    if not exps:  # a misspelt preset writes nothing
        known = sorted({p for exp in everyone for p in exp.presets})
        raise ConfigError(f"no experiment has a preset {args.preset!r}; presets are {', '.join(known)}")
    for exp in everyone:
        if exp not in exps:
            log.info(f"wgflow: {exp.name} has no preset {args.preset!r}; skipped")
    return exps


def _record(name: str, out) -> dict:
    """One experiment of ``reproduce --json``: its run, status, exit code and claim verdicts."""
    claims = [{"name": c.name, "verdict": c.verdict} for c in out.result.claims]
    return {"name": name, "run_id": out.run_id, "status": out.status, "exit_code": out.exit_code, "claims": claims}


def _reproduce_in_turn(args, store, names: list[str], known: dict[str, float]) -> tuple[int, list[dict], int]:
    """Run the experiments ``names`` one after the other in this process, with progress and an
    estimate of the time left; returns (exit code, each experiment's record, registered claims failed)."""
    from ..harness.runner import EXIT_FAILED, EXIT_OK, execute  # torch: not for --help or the other commands

    code, records, failed, t0 = EXIT_OK, [], 0, time.monotonic()
    done: list[float] = []  # the wall time of each experiment run so far
    for i, name in enumerate(names, 1):
        left = estimate_left(names[i - 1 :], known, done)
        log.info(progress_line(i, len(names), name, args.preset, time.monotonic() - t0, left))
        t1 = time.monotonic()
        with Heartbeat(f"{name} (experiment {i}/{len(names)})", every=args.heartbeat):
            out = execute(
                name,
                args.preset,
                seed=args.seed,
                store=store,
                untrained=args.untrained,
                device=args.device,
                threads=args.threads,
                show_progress=show_progress(args),
            )
        done.append(time.monotonic() - t1)
        if out.message:
            print(f"wgflow: run {out.run_id} {out.status}: {out.message}", file=sys.stderr)
        print("\n".join(outcome_lines(out)), file=sys.stderr if args.json else sys.stdout)
        records.append(_record(name, out))
        failed += failed_registered((c.passed, c.registered) for c in out.result.claims)
        if out.exit_code in (130, 143):
            return out.exit_code, records, failed
        if out.exit_code != EXIT_OK:
            code = EXIT_FAILED
    return code, records, failed


def _reproduce_in_parallel(args, store, names: list[str], known: dict[str, float]) -> tuple[int, list[dict], int]:
    """Run the experiments ``names`` ``args.jobs`` at a time (the longest first, by their earlier runs in
    the store or their ``cost``), each in a fresh
    process writing its run to the store; print each outcome as it finishes."""
    from ..harness.runner import EXIT_FAILED, EXIT_OK  # torch: not for --help or the other commands
    from ..parallel.executors import LocalExecutor  # process pool: only for reproduce --jobs

    order = sorted(names, key=lambda n: -known.get(n, get_experiment(n).cost))
    executor = LocalExecutor(args.jobs, preload=("torch", "wgflow.cli.run", "wgflow.harness.runner"))
    threads = args.threads or executor.threads
    tasks = [
        {
            "name": n,
            "preset": args.preset,
            "seed": args.seed,
            "store": str(store.root),
            "untrained": args.untrained,
            "device": args.device,
            "threads": threads,
        }
        for n in order
    ]
    log.info(f"wgflow: {len(tasks)} experiments, {args.jobs} at a time ({threads} torch thread(s) each)")
    code, records, failed, t0 = EXIT_OK, [], 0, time.monotonic()
    for k, (i, out) in enumerate(executor.map_unordered(run_one, tasks), 1):
        if isinstance(out, Exception):  # the process running it died
            print(f"wgflow: {order[i]}: {out}", file=sys.stderr, flush=True)
            records.append(
                {"name": order[i], "run_id": None, "status": "failed", "exit_code": EXIT_FAILED, "claims": []}
            )
            code = EXIT_FAILED
            continue
        log.info(
            f"wgflow: experiment {k}/{len(tasks)} done: {order[i]} ({fmt_duration(out['duration'])}; "
            f"{fmt_duration(time.monotonic() - t0)} elapsed)"
        )
        if out["message"]:
            print(f"wgflow: run {out['run_id']} {out['status']}: {out['message']}", file=sys.stderr)
        print("\n".join(out["lines"]), file=sys.stderr if args.json else sys.stdout, flush=True)
        records.append(out["record"])
        failed += out["failed_registered"]
        if out["exit_code"] in (130, 143):
            return out["exit_code"], records, failed
        if out["exit_code"] != EXIT_OK:
            code = EXIT_FAILED
    return code, records, failed


def run_one(task: dict) -> dict:
    """One experiment of ``reproduce --jobs`` in a worker process: run it into the store, return
    what the parent prints (picklable)."""
    from ..harness.runner import execute  # the worker's forkserver has imported it already
    from ..store import Store  # opened in the worker: a connection does not cross processes

    t0 = time.monotonic()
    with Store(task["store"]) as store:
        out = execute(
            task["name"],
            task["preset"],
            seed=task["seed"],
            store=store,
            untrained=task["untrained"],
            device=task["device"],
            threads=task["threads"],
            show_progress=False,
        )
    return {
        "run_id": out.run_id,
        "status": out.status,
        "exit_code": out.exit_code,
        "message": out.message,
        "lines": outcome_lines(out),
        "record": _record(task["name"], out),
        "failed_registered": failed_registered((c.passed, c.registered) for c in out.result.claims),
        "duration": time.monotonic() - t0,
    }
