"""The ``wgflow`` console script: list, run, reproduce, report and inspect experiments.

Exit codes: 0 the run completed (whatever its claims), 1 it failed or diverged, or the store
is damaged (one line naming it), 2 bad usage or bad config (nothing written, the store is not
even created), 130 / 143 interrupted by SIGINT / SIGTERM.
With ``--json``, ``run`` prints exactly one JSON object on stdout; progress and logs go
to stderr.

Subcommands are registered with :func:`command`; a new one (e.g. ``sweep``) is a
function ``add(subparsers)`` that adds its parser and sets ``func=handler``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Callable

from ._version import __version__
from .errors import ConfigError
from .numbers import fmt
from .store import StoreError

__all__ = ["main", "command", "build_parser"]

_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def command(add: Callable[[argparse._SubParsersAction], None]) -> Callable:
    """Register a subcommand: ``add(subparsers)`` creates its parser and sets ``func``."""
    _COMMANDS.append(add)
    return add


def _store(args, must_exist: str | None = None):
    """The store of ``--store`` (or the default); ``must_exist``: the error if there is none (nothing created)."""
    from .store import Store

    path = getattr(args, "store", None) or None
    if must_exist is None:
        return Store(path)
    try:
        return Store(path, create=False)
    except FileNotFoundError as e:
        raise ConfigError(f"{must_exist}: {e}") from None


def _seed_arg(p: argparse.ArgumentParser) -> None:
    from .experiments.config import MAX_SEED

    p.add_argument("--seed", type=int, default=0, help=f"random seed in [0, {MAX_SEED}] (default 0)")


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="PATH", help="store directory (default: $WGFLOW_STORE or ./wgflow-runs)")


def _preset_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--quick", dest="preset", action="store_const", const="quick", help="minutes on 2 CPU cores (default)"
    )
    g.add_argument(
        "--full",
        dest="preset",
        action="store_const",
        const="full",
        help="the source's own settings (hours on CPU, minutes on a GPU)",
    )
    g.add_argument(
        "--preset",
        dest="preset",
        metavar="NAME",
        help="any preset of the experiment by name (e.g. rve-3spin's 'paper'; see `wgflow list`)",
    )
    p.set_defaults(preset="quick")


def _runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default=None,
        help="where flows run (default cpu; auto: CUDA when available)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch intra-op threads per flow (default: chosen from the work per step, 1 for small steps)",
    )


def _check_runtime(args) -> None:
    from .flows.runtime import check_options  # torch: only once a command runs, never for --help

    check_options(device=args.device, threads=args.threads)


def _untrained_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--untrained",
        action="store_true",
        help="negative control: the same pipeline with every training step switched off "
        "(initialisation, data and evaluation unchanged); no claim should pass",
    )


def _parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value
    return out


# --------------------------------------------------------------------------- list
@command
def _add_list(sub) -> None:
    p = sub.add_parser("list", help="registered experiments with one-line descriptions")
    p.set_defaults(func=_cmd_list)


def _cmd_list(args) -> int:
    from .experiments._catalog import catalog  # read from the sources: no torch

    exps = catalog()
    width = max((len(e.name) for e in exps), default=0)
    for e in exps:
        print(f"{e.name:<{width}}  {e.title}  [{e.reference}]")
    return 0


# --------------------------------------------------------------------------- show
@command
def _add_show(sub) -> None:
    p = sub.add_parser(
        "show",
        help="one experiment: what it tests, config keys (types, defaults, domains), presets, claims with sources",
    )
    p.add_argument("name", help="experiment name (see `wgflow list`)")
    _store_arg(p)
    p.set_defaults(func=_cmd_show)


def _cmd_show(args) -> int:
    from .cli_show import show_experiment
    from .experiments.base import get_experiment

    exp = get_experiment(args.name)
    try:
        store = _store(args, must_exist="no store")
    except ConfigError:  # no store yet: the claims are not known
        store = None
    print(show_experiment(exp, store))
    return 0


# --------------------------------------------------------------------------- run
@command
def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run one experiment and record it in the store")
    p.add_argument(
        "name", nargs="?", help="experiment name (see `wgflow list`) or a .py file defining one; optional with --resume"
    )
    _preset_args(p)
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (repeatable)",
    )
    _seed_arg(p)
    _store_arg(p)
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
    _untrained_arg(p)
    _runtime_args(p)
    p.add_argument(
        "--compile",
        action="store_true",
        help="run ensembles' steps through torch.compile (20-40 s of compiling first; see README; default off)",
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
    from .experiments.config import check_seed
    from .experiments.runner import execute

    if args.name is None and args.resume is None:
        raise ConfigError("run needs an experiment NAME (see `wgflow list`) or --resume RUN_ID")
    overrides = _parse_sets(args.sets)
    if args.resume and (overrides or args.seed != 0 or args.untrained):
        raise ConfigError("--resume uses the stored config, seed and control flag; drop --set/--seed/--untrained")
    if args.force and not args.resume:
        raise ConfigError("--force only applies to --resume RUN_ID")
    check_seed(args.seed)
    if args.resume is None:  # validate before the store is even opened: a bad config writes nothing
        from .experiments.base import make_config

        make_config(args.name, args.preset, overrides)
    if args.checkpoint_every < 1:
        raise ConfigError(f"--checkpoint-every must be a positive integer, got {args.checkpoint_every}")
    _check_runtime(args)
    store = _store(args, must_exist=f"no run {args.resume!r} to resume" if args.resume else None)
    from .flows.runtime import use

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
@command
def _add_reproduce(sub) -> None:
    p = sub.add_parser("reproduce", help="run every registered experiment, then write the report")
    _preset_args(p)
    _seed_arg(p)
    _store_arg(p)
    p.add_argument("--out", metavar="FILE", help="report file (default: <store>/report.html)")
    _untrained_arg(p)
    p.add_argument(
        "--heartbeat",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="when stderr is not a terminal, say which experiment is running every SECONDS (default 60)",
    )
    _runtime_args(p)
    p.set_defaults(func=_cmd_reproduce)


def _cmd_reproduce(args) -> int:
    import time

    from .cli_progress import Heartbeat, estimate_left, previous_durations, progress_line
    from .experiments.base import list_experiments
    from .experiments.config import check_seed
    from .experiments.runner import EXIT_FAILED, EXIT_OK, execute
    from .numbers import fmt_duration
    from .report import write_report

    check_seed(args.seed)
    if not args.heartbeat > 0:
        raise ConfigError(f"--heartbeat must be a positive number of seconds, got {args.heartbeat}")
    _check_runtime(args)
    store = _store(args)
    code, exps = EXIT_OK, []
    for exp in list_experiments():
        if args.preset in exp.presets:
            exps.append(exp)
        else:
            print(f"wgflow: {exp.name} has no preset {args.preset!r}; skipped", file=sys.stderr, flush=True)
    known, done, t0 = previous_durations(store.runs(), args.preset, args.untrained), [], time.monotonic()
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


# --------------------------------------------------------------------------- report
@command
def _add_report(sub) -> None:
    p = sub.add_parser("report", help="write the static HTML report and print its path")
    _store_arg(p)
    p.add_argument("--out", metavar="FILE", help="report file (default: <store>/report.html)")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args) -> int:
    from .report import write_report

    store = _store(args)
    print(write_report(store, args.out or store.root / "report.html"))
    return 0


# --------------------------------------------------------------------------- runs
@command
def _add_runs(sub) -> None:
    p = sub.add_parser("runs", help="stored runs with status and claim counts")
    _store_arg(p)
    p.add_argument("--experiment", help="only runs of this experiment")
    p.add_argument("--json", action="store_true", help="one JSON array on stdout (same as --format json)")
    p.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table (default); csv: one row per run with config.*, metric.* and claim.* columns; json",
    )
    p.add_argument(
        "--check",
        action="store_true",
        help="verify the store: SQLite integrity and every recorded file (exit 1 on a problem)",
    )
    p.set_defaults(func=_cmd_runs)


def _cmd_check(store) -> int:
    problems = store.check()
    for line in problems:
        print(line)
    n = len(store.runs())
    print(f"store {store.root}: {n} runs, " + (f"{len(problems)} problem(s)" if problems else "ok"), file=sys.stderr)
    return 1 if problems else 0


def _cmd_runs(args) -> int:
    if args.check:
        return _cmd_check(_store(args, must_exist="cannot check"))
    try:
        store = _store(args, must_exist="no store")
    except ConfigError:  # listing creates nothing: no store, no runs
        store, runs = None, []
    else:
        runs = store.runs(args.experiment)
    if args.format == "csv":
        from .export import write_runs_csv

        if store is not None:
            write_runs_csv(store, sys.stdout, args.experiment)
        return 0
    args.json = args.json or args.format == "json"
    for r in runs:  # a run killed by SIGKILL stays 'running' in the database; show it as 'killed'
        r["alive"] = store.is_alive(r)
        r["shown"] = "killed" if r["status"] == "running" and not r["alive"] else r["status"]
    if args.json:
        from .cli_show import run_overrides

        keep = (
            "run_id",
            "experiment",
            "preset",
            "seed",
            "status",
            "message",
            "started_at",
            "duration_s",
            "n_claims",
            "n_passed",
            "sweep_id",
            "host",
            "pid",
            "alive",
            "untrained",
        )
        print(json.dumps([{**{k: r.get(k) for k in keep}, "overrides": run_overrides(r)} for r in runs], default=str))
        return 0
    if not runs:
        print("no runs yet; try `wgflow run teacher-student`", file=sys.stderr)
        return 0
    if any(r["shown"] in ("killed", "interrupted") for r in runs):
        print("(killed / interrupted runs continue with `wgflow run --resume RUN_ID`)", file=sys.stderr)
    from .cli_show import runs_table

    print("\n".join(runs_table(runs)))
    return 0


# --------------------------------------------------------------------------- sweep
@command
def _add_sweep(sub) -> None:
    from .parallel.sweep import add_sweep_parser  # grids, executors and the store: wgflow.parallel

    add_sweep_parser(sub)


# --------------------------------------------------------------------------- main
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2
        self.exit(2, f"wgflow: error: {message} (see `wgflow --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wgflow",
        description="Neural-network training as particles flowing in Wasserstein "
        "space: run the reproduced experiments, store their claims, write the report.",
    )
    parser.add_argument("--version", action="version", version=f"wgflow {__version__}")
    parser.add_argument(
        "--experiments-path",
        action="append",
        default=[],
        metavar="PATH",
        help="also load experiments from this .py file or folder (repeatable; adds to $WGFLOW_EXPERIMENTS)",
    )
    parser.add_argument(
        "--figure-format",
        choices=("png", "pdf", "svg"),
        metavar="{png,pdf,svg}",
        help="format of the figures runs save (default png; pdf or svg for papers; also $WGFLOW_FIGURE_FORMAT)",
    )
    parser.add_argument(
        "--dpi", type=int, metavar="N", help="resolution of raster figures (default 150; also $WGFLOW_FIGURE_DPI)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in _COMMANDS:
        add(sub)
    for p in sub.choices.values():  # also accepted after the command: `wgflow list --experiments-path x.py`
        p.add_argument(
            "--experiments-path",
            dest="experiments_path_sub",
            action="append",
            default=[],
            metavar="PATH",
            help=argparse.SUPPRESS,
        )
    return parser


def _external_experiments(args) -> None:
    """--experiments-path into $WGFLOW_EXPERIMENTS (sweep workers inherit it); NAME given as a .py file."""
    import os

    from .experiments._external import ENV, load_file
    from .plotting import ENV_DPI, ENV_FORMAT, figure_settings

    if args.figure_format or args.dpi is not None:  # the run contexts (and sweep workers) read these
        fmt_, dpi = figure_settings(args.figure_format, args.dpi)
        os.environ[ENV_FORMAT], os.environ[ENV_DPI] = fmt_, str(dpi)
    paths = [*args.experiments_path, *getattr(args, "experiments_path_sub", [])]
    if paths:
        old = os.environ.get(ENV)
        os.environ[ENV] = os.pathsep.join([*(os.path.abspath(p) for p in paths), *([old] if old else [])])
    name = getattr(args, "name", None)
    if isinstance(name, str) and name.endswith(".py"):
        names = load_file(name)
        if len(names) != 1:
            raise ConfigError(
                f"{name} registers {len(names)} experiments ({', '.join(names) or 'none'}); load it "
                "with --experiments-path and name the experiment"
            )
        args.name = names[0]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _external_experiments(args)
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"wgflow: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except StoreError as e:
        print(f"wgflow: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except sqlite3.Error as e:  # outside the Store's own guard (should not happen): still one line
        print(
            f"wgflow: error: store database error ({type(e).__name__}: {_one_line(e)}); check it with "
            "`wgflow runs --check`",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("wgflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except BaseException as e:  # SIGTERM: the runner's Terminated (imported lazily: `--help` stays fast)
        runner = sys.modules.get("wgflow.experiments.runner")
        if runner is not None and isinstance(e, runner.Terminated):
            print("wgflow: terminated", file=sys.stderr)
            return 143
        raise


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
