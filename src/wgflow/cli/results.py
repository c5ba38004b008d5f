"""``wgflow results``: the records of runs at the sources' settings kept in the repository
(:mod:`wgflow.report.records`), and the README section generated from them."""

from __future__ import annotations

import logging

from ..errors import ConfigError
from ..report.records import read_records, stale_keys, sync_readme, write_record
from .args import open_store, store_arg

__all__ = ["add_results"]

log = logging.getLogger("wgflow.cli")


def add_results(sub) -> None:
    p = sub.add_parser(
        "results",
        help="record runs in results/ and regenerate the README's table of results at the sources' settings",
        description="Records of completed runs at the sources' settings, kept in the repository: "
        "`results record RUN_ID` writes results/<experiment>/<preset>/record.json and its figures; "
        "`results readme` regenerates the README section from the records (--check: exit 1 if out of step).",
    )
    act = p.add_subparsers(dest="action", metavar="ACTION")
    act.required = True
    rec = act.add_parser("record", help="write the record of a completed run (results/<experiment>/<preset>/)")
    rec.add_argument("run_id", metavar="RUN_ID")
    store_arg(rec)
    rec.add_argument("--dir", default="results", metavar="DIR", help="results folder (default: results)")
    rec.set_defaults(func=_cmd_record)
    readme = act.add_parser("readme", help="regenerate the README section 'Results at the sources' settings'")
    readme.add_argument("--dir", default="results", metavar="DIR", help="results folder (default: results)")
    readme.add_argument("--readme", default="README.md", metavar="FILE", help="the README (default: README.md)")
    readme.add_argument("--check", action="store_true", help="write nothing; exit 1 if the README is out of step")
    readme.set_defaults(func=_cmd_readme)


def _cmd_record(args) -> int:
    from ..harness.configs import preset_config  # the experiments and torch: not for --help

    store = open_store(args, must_exist="no run to record")
    path = write_record(store, args.run_id, preset_config, args.dir)
    print(path)
    record = read_records(args.dir)[(path.parent.parent.name, path.parent.name)]
    stale = stale_keys(record, preset_config)
    if stale:
        keys = ", ".join(stale)
        log.warning(f"wgflow: the record's config differs from the current {record['preset']!r} preset in: {keys}")
    return 0


def _cmd_readme(args) -> int:
    from ..harness.configs import preset_config  # the experiments and torch: not for --help

    try:
        changed = sync_readme(args.readme, preset_config, args.dir, check=args.check)
    except FileNotFoundError as e:
        raise ConfigError(f"{e.filename}: no such file") from None
    if args.check:
        if changed:
            print(f"wgflow: {args.readme} is out of step with {args.dir}/: run `wgflow results readme`")
            return 1
        return 0
    print(f"{args.readme} {'updated' if changed else 'already in step'}")
    return 0
