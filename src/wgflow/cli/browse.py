"""``wgflow list``, ``show``, ``report`` and ``runs``: the commands that read the registry and the store."""

from __future__ import annotations

import json
import sys

from ..errors import ConfigError
from ..harness import get_experiment
from ..harness.catalog import catalog
from ..report import write_report
from .args import open_store, store_arg
from .described import described
from .schema import config_schema
from .show import latest_run_dict, run_overrides, runs_table, show_experiment

__all__ = ["add_list", "add_show", "add_report", "add_runs"]


# --------------------------------------------------------------------------- list
def add_list(sub) -> None:
    p = sub.add_parser("list", help="registered experiments with one-line descriptions")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON array on stdout: name, title, reference, presets (loads the experiments, so torch)",
    )
    p.set_defaults(func=_cmd_list)


def _cmd_list(args) -> int:
    exps = catalog()  # read from the experiments' sources: no torch
    if args.json:  # the presets are class attributes: the experiments themselves are loaded
        rows = [
            {
                "name": e.name,
                "title": e.title,
                "reference": e.reference,
                "presets": list(get_experiment(e.name).presets),
            }
            for e in exps
        ]
        print(json.dumps(rows))
        return 0
    width = max((len(e.name) for e in exps), default=0)
    for e in exps:
        print(f"{e.name:<{width}}  {e.title}  [{e.reference}]")
    return 0


# --------------------------------------------------------------------------- show
def add_show(sub) -> None:
    p = sub.add_parser(
        "show",
        help="one experiment: what it tests, config keys (types, defaults, domains), presets, claims with sources",
    )
    p.add_argument("name", help="experiment name (see `wgflow list`)")
    store_arg(p)
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object on stdout: description, config fields, presets, the latest run's claims",
    )
    p.add_argument(
        "--schema",
        action="store_true",
        help="print the config's JSON Schema (draft 2020-12: types, bounds, choices, defaults, comments)",
    )
    p.set_defaults(func=_cmd_show)


def _cmd_show(args) -> int:
    if args.schema:
        print(json.dumps(config_schema(get_experiment(args.name)), indent=2))
        return 0
    d = described(args.name)  # from the cache when the sources are unchanged: no torch
    try:
        store = open_store(args, must_exist="no store")
    except ConfigError:  # no store yet: the claims are not known
        store = None
    if args.json:
        shown = {k: v for k, v in d.items() if k != "preset_configs"}
        print(json.dumps(shown | {"latest_run": latest_run_dict(args.name, store)}, default=str))
        return 0
    print(show_experiment(d, store))
    return 0


# --------------------------------------------------------------------------- run


def add_report(sub) -> None:
    p = sub.add_parser("report", help="write the static HTML report and print its path")
    store_arg(p)
    p.add_argument("--out", metavar="FILE", help="report file (default: <store>/report.html)")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args) -> int:
    store = open_store(args, must_exist="nothing to report")
    if store.readonly and not args.out:
        raise ConfigError(f"store {store.root} is read-only: write the report elsewhere with --out FILE")
    print(write_report(store, args.out or store.root / "report.html"))
    return 0


# --------------------------------------------------------------------------- runs
def add_runs(sub) -> None:
    p = sub.add_parser("runs", help="stored runs with status and claim counts")
    store_arg(p)
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
        return _cmd_check(open_store(args, must_exist="cannot check"))
    store = open_store(args, must_exist="no runs to list")  # listing creates nothing
    runs = store.runs(args.experiment)
    if args.format == "csv":
        from ..interop.export import write_runs_csv  # wgflow.interop imports torch: not for the other commands

        write_runs_csv(store, sys.stdout, args.experiment)
        return 0
    args.json = args.json or args.format == "json"
    for r in runs:  # a run killed by SIGKILL stays 'running' in the database; show it as 'killed'
        r["alive"] = store.is_alive(r)
        r["shown"] = "killed" if r["status"] == "running" and not r["alive"] else r["status"]
    if args.json:
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
    print("\n".join(runs_table(runs)))
    return 0
