"""``wgflow run`` and ``wgflow reproduce``: the commands that execute experiments and record them."""

from __future__ import annotations

import json
import sys
import time

from ..domains import check_seed
from ..errors import ConfigError
from ..harness import list_experiments, make_config
from ..report import write_report
from ..report.numbers import fmt, fmt_duration
from .args import (
    check_runtime,
    open_store,
    parse_sets,
    preset_args,
    runtime_args,
    seed_arg,
    sets_arg,
    store_arg,
    untrained_arg,
)
from .progress import Heartbeat, estimate_left, previous_durations, progress_line

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
    runtime_args(p)
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
    claims = out.result.claims
    print(
        f"{out.experiment} {out.run_id}: {out.status}"
        + (" (untrained control)" if out.untrained else "")
        + (f", claims {out.result.n_passed}/{len(claims)} passed" if out.status == "completed" else "")
    )
    for c in claims:
        extra = "".join(
            [
                f", CI [{fmt(c.ci[0])}, {fmt(c.ci[1])}]" if c.ci else "",
                f", control {fmt(c.control, max_len=40)}" if c.control is not None else "",
            ]
        )
        print(
            f"  [{'PASS' if c.passed else 'FAIL'}] {c.name}: measured {fmt(c.measured, max_len=60)}, "
            f"expected {c.expected}{extra}"
        )


def _cmd_run(args) -> int:
    from ..harness.runner import execute  # the runner imports torch: not for --help or the other commands

    if args.name is None and args.resume is None:
        raise ConfigError("run needs an experiment NAME (see `wgflow list`) or --resume RUN_ID")
    overrides = parse_sets(args.sets)
    if args.resume and (overrides or args.seed != 0 or args.untrained):
        raise ConfigError("--resume uses the stored config, seed and control flag; drop --set/--seed/--untrained")
    if args.force and not args.resume:
        raise ConfigError("--force only applies to --resume RUN_ID")
    check_seed(args.seed)
    if args.resume is None:  # validate before the store is even opened: a bad config writes nothing
        make_config(args.name, args.preset, overrides)
    if args.checkpoint_every < 1:
        raise ConfigError(f"--checkpoint-every must be a positive integer, got {args.checkpoint_every}")
    check_runtime(args)
    store = open_store(args, must_exist=f"no run {args.resume!r} to resume" if args.resume else None)
    from ..flows.runtime import use  # torch: imported once the run is validated, as the runner is

    with use(compile=args.compile):  # ensembles only: single flows stay eager
        out = execute(
            args.name,
            args.preset,
            overrides,
            seed=args.seed,
            store=store,
            resume=args.resume,
            checkpoint_every=args.checkpoint_every,
            show_progress=False if args.json else None,
            untrained=args.untrained,
            force=args.force,
            device=args.device,
            threads=args.threads,
        )
    if out.message:
        print(f"wgflow: run {out.run_id} {out.status}: {out.message}", file=sys.stderr)
    _print_outcome(out, args.json)
    return out.exit_code


# --------------------------------------------------------------------------- reproduce
def add_reproduce(sub) -> None:
    p = sub.add_parser("reproduce", help="run every registered experiment, then write the report")
    preset_args(p)
    seed_arg(p)
    store_arg(p)
    p.add_argument("--out", metavar="FILE", help="report file (default: <store>/report.html)")
    untrained_arg(p)
    p.add_argument(
        "--heartbeat",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="when stderr is not a terminal, say which experiment is running every SECONDS (default 60)",
    )
    runtime_args(p)
    p.set_defaults(func=_cmd_reproduce)


def _cmd_reproduce(args) -> int:
    from ..harness.runner import EXIT_FAILED, EXIT_OK, execute  # torch: not for --help or the other commands

    check_seed(args.seed)
    if not args.heartbeat > 0:
        raise ConfigError(f"--heartbeat must be a positive number of seconds, got {args.heartbeat}")
    check_runtime(args)
    everyone = list_experiments()
    exps = [exp for exp in everyone if args.preset in exp.presets]
    if not exps:  # before the store opens: a misspelt preset writes nothing
        known = sorted({p for exp in everyone for p in exp.presets})
        raise ConfigError(f"no experiment has a preset {args.preset!r}; presets are {', '.join(known)}")
    store = open_store(args)
    code = EXIT_OK
    for exp in everyone:
        if exp not in exps:
            print(f"wgflow: {exp.name} has no preset {args.preset!r}; skipped", file=sys.stderr, flush=True)
    done: list[float] = []
    known, t0 = previous_durations(store.runs(), args.preset, args.untrained), time.monotonic()
    n_claims = n_passed = 0
    for i, exp in enumerate(exps, 1):
        left = estimate_left([x.name for x in exps[i - 1 :]], known, done)
        print(
            progress_line(i, len(exps), exp.name, args.preset, time.monotonic() - t0, left), file=sys.stderr, flush=True
        )
        t1 = time.monotonic()
        with Heartbeat(f"{exp.name} (experiment {i}/{len(exps)})", every=args.heartbeat):
            out = execute(
                exp.name,
                args.preset,
                seed=args.seed,
                store=store,
                untrained=args.untrained,
                device=args.device,
                threads=args.threads,
            )
        done.append(time.monotonic() - t1)
        if out.message:
            print(f"wgflow: run {out.run_id} {out.status}: {out.message}", file=sys.stderr)
        _print_outcome(out, False)
        n_claims, n_passed = n_claims + len(out.result.claims), n_passed + out.result.n_passed
        if out.exit_code in (130, 143):
            return out.exit_code
        if out.exit_code != EXIT_OK:
            code = EXIT_FAILED
    path = write_report(store, args.out or store.root / "report.html")
    print(
        f"wgflow: {len(exps)} experiments in {fmt_duration(time.monotonic() - t0)}: {n_passed} of {n_claims} "
        f"claims passed" + (" (untrained control: none should)" if args.untrained else ""),
        file=sys.stderr,
    )
    print(path)
    return code
