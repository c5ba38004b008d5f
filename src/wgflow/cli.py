"""The ``wgflow`` console script: list, run, reproduce, report and inspect experiments.

Exit codes: 0 the run completed (whatever its claims), 1 it failed or diverged,
2 bad usage or bad config (nothing written), 130 / 143 interrupted by SIGINT / SIGTERM.
With ``--json``, ``run`` prints exactly one JSON object on stdout; progress and logs go
to stderr.

Subcommands are registered with :func:`command`; a new one (e.g. ``sweep``) is a
function ``add(subparsers)`` that adds its parser and sets ``func=handler``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Callable

from ._version import __version__
from .experiments.base import ConfigError

__all__ = ["main", "command", "build_parser"]

_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def command(add: Callable[[argparse._SubParsersAction], None]) -> Callable:
    """Register a subcommand: ``add(subparsers)`` creates its parser and sets ``func``."""
    _COMMANDS.append(add)
    return add


def _store(args):
    from .store import Store

    return Store(args.store) if getattr(args, "store", None) else Store()


def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="PATH", help="store directory (default: $WGFLOW_STORE or ./wgflow-runs)")


def _preset_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="preset", action="store_const", const="quick",
                   help="minutes on 2 CPU cores (default)")
    g.add_argument("--full", dest="preset", action="store_const", const="full",
                   help="the source's own settings (hours on CPU, minutes on a GPU)")
    g.add_argument("--preset", dest="preset", metavar="NAME",
                   help="any preset of the experiment by name (e.g. rve-3spin's 'paper'; see `wgflow list`)")
    p.set_defaults(preset="quick")


def _runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                   help="where flows run (default cpu; auto: CUDA when available)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch intra-op threads per flow (default: chosen from the work per step, 1 for small steps)")


def _check_runtime(args) -> None:
    from .flows.runtime import resolve_device

    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be a positive integer, got {args.threads}")
    if args.device is not None:
        resolve_device(args.device)


def _untrained_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--untrained", action="store_true",
                   help="negative control: the same pipeline with every training step switched off "
                        "(initialisation, data and evaluation unchanged); no claim should pass")


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
    from .experiments.base import list_experiments

    exps = list_experiments()
    width = max((len(e.name) for e in exps), default=0)
    for e in exps:
        print(f"{e.name:<{width}}  {e.title}  [{e.reference}]")
    return 0


# --------------------------------------------------------------------------- run
@command
def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run one experiment and record it in the store")
    p.add_argument("name", nargs="?", help="experiment name (see `wgflow list`); optional with --resume")
    _preset_args(p)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _store_arg(p)
    p.add_argument("--resume", metavar="RUN_ID", help="continue an interrupted run with its stored config and seed")
    p.add_argument("--checkpoint-every", type=int, default=200, metavar="K",
                   help="checkpoint flows every K steps (default 200)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout, nothing else")
    _untrained_arg(p)
    _runtime_args(p)
    p.set_defaults(func=_cmd_run)


def _print_outcome(out, as_json: bool) -> None:
    if as_json:
        print(json.dumps(out.to_dict(), default=str))
        return
    claims = out.result.claims
    print(f"{out.experiment} {out.run_id}: {out.status}" + (" (untrained control)" if out.untrained else "")
          + (f", claims {out.result.n_passed}/{len(claims)} passed" if out.status == "completed" else ""))
    for c in claims:
        extra = "".join([f", CI [{c.ci[0]:.4g}, {c.ci[1]:.4g}]" if c.ci else "",
                         f", control {c.control:.4g}" if isinstance(c.control, float) else
                         (f", control {c.control}" if c.control is not None else "")])
        print(f"  [{'PASS' if c.passed else 'FAIL'}] {c.name}: measured {c.measured}, expected {c.expected}{extra}")


def _cmd_run(args) -> int:
    from .experiments.runner import execute

    if args.name is None and args.resume is None:
        raise ConfigError("run needs an experiment NAME (see `wgflow list`) or --resume RUN_ID")
    overrides = _parse_sets(args.sets)
    if args.resume and (overrides or args.seed != 0 or args.untrained):
        raise ConfigError("--resume uses the stored config, seed and control flag; drop --set/--seed/--untrained")
    if args.resume is None:  # validate before the store is even opened: a bad config writes nothing
        from .experiments.base import make_config

        make_config(args.name, args.preset, overrides)
    if args.checkpoint_every < 1:
        raise ConfigError(f"--checkpoint-every must be a positive integer, got {args.checkpoint_every}")
    _check_runtime(args)
    store = _store(args)
    out = execute(args.name, args.preset, overrides, seed=args.seed, store=store, resume=args.resume,
                  checkpoint_every=args.checkpoint_every, show_progress=False if args.json else None,
                  untrained=args.untrained, device=args.device, threads=args.threads)
    if out.message:
        print(f"wgflow: run {out.run_id} {out.status}: {out.message}", file=sys.stderr)
    _print_outcome(out, args.json)
    return out.exit_code


# --------------------------------------------------------------------------- reproduce
@command
def _add_reproduce(sub) -> None:
    p = sub.add_parser("reproduce", help="run every registered experiment, then write the report")
    _preset_args(p)
    p.add_argument("--seed", type=int, default=0)
    _store_arg(p)
    p.add_argument("--out", metavar="FILE", help="report file (default: <store>/report.html)")
    _untrained_arg(p)
    _runtime_args(p)
    p.set_defaults(func=_cmd_reproduce)


def _cmd_reproduce(args) -> int:
    from .experiments.base import list_experiments
    from .experiments.runner import EXIT_FAILED, EXIT_OK, execute
    from .report import write_report

    _check_runtime(args)
    store = _store(args)
    code = EXIT_OK
    for exp in list_experiments():
        if args.preset not in exp.presets:
            print(f"wgflow: {exp.name} has no preset {args.preset!r}; skipped", file=sys.stderr, flush=True)
            continue
        print(f"wgflow: {exp.name} ({args.preset}) ...", file=sys.stderr, flush=True)
        out = execute(exp.name, args.preset, seed=args.seed, store=store, untrained=args.untrained,
                      device=args.device, threads=args.threads)
        if out.message:
            print(f"wgflow: run {out.run_id} {out.status}: {out.message}", file=sys.stderr)
        _print_outcome(out, False)
        if out.exit_code in (130, 143):
            return out.exit_code
        if out.exit_code != EXIT_OK:
            code = EXIT_FAILED
    path = write_report(store, args.out or store.root / "report.html")
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
    p.add_argument("--json", action="store_true", help="one JSON array on stdout")
    p.set_defaults(func=_cmd_runs)


def _cmd_runs(args) -> int:
    import time

    store = _store(args)
    runs = store.runs(args.experiment)
    for r in runs:  # a run killed by SIGKILL stays 'running' in the database; show it as 'killed'
        r["alive"] = store.is_alive(r)
        r["shown"] = "killed" if r["status"] == "running" and not r["alive"] else r["status"]
    if args.json:
        keep = ("run_id", "experiment", "preset", "seed", "status", "message", "started_at", "duration_s",
                "n_claims", "n_passed", "sweep_id", "host", "pid", "alive")
        print(json.dumps([{k: r[k] for k in keep} for r in runs], default=str))
        return 0
    if not runs:
        print("no runs yet; try `wgflow run teacher-student`", file=sys.stderr)
        return 0
    if any(r["shown"] in ("killed", "interrupted") for r in runs):
        print("(killed / interrupted runs continue with `wgflow run --resume RUN_ID`)", file=sys.stderr)
    print(f"{'run_id':<26} {'experiment':<22} {'preset':<6} {'status':<11} {'claims':>7} {'time':>8}  started")
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started_at"]))
        claims = f"{r['n_passed']}/{r['n_claims']}" if r["n_claims"] else "-"
        print(f"{r['run_id']:<26} {r['experiment']:<22} {str(r['preset']):<6} {r['shown']:<11} {claims:>7} "
              f"{r['duration_s']:>7.1f}s  {started}")
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
    parser = _Parser(prog="wgflow", description="Neural-network training as particles flowing in Wasserstein "
                     "space: run the reproduced experiments, store their claims, write the report.")
    parser.add_argument("--version", action="version", version=f"wgflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as e:
        print(f"wgflow: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("wgflow: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
