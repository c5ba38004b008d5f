"""The ``wgflow`` console script: list, run, reproduce, report and inspect experiments.

Exit codes: 0 the run completed (whatever its claims), 1 it failed or diverged, an OS fault
stopped it (a full disk), or the store is damaged (one line naming it), 2 bad usage or bad config,
an unsafe name or a ``--store`` that is no writable folder (nothing written, the store is not even
created), 130 / 143 interrupted by SIGINT / SIGTERM.
With ``--json``, ``list``, ``show``, ``run``, ``runs``, ``sweep`` and ``reproduce`` print exactly one
JSON document on stdout; progress and logs go to stderr.

The subcommands live beside this module, by concept: :mod:`~wgflow.cli.run` (run, reproduce),
:mod:`~wgflow.cli.browse` (list, show, report, runs), :mod:`~wgflow.cli.sweep` (sweep); their shared
options are in :mod:`~wgflow.cli.args`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys

from .._version import __version__
from ..errors import ConfigError
from ..harness.plugins import ENV, load_file
from ..plotting.figures import ENV_DPI, ENV_FORMAT, ENV_STYLE, FIGURE_STYLES, figure_settings, figure_style
from ..store import StoreError
from .args import close_stores, configure_logging
from .browse import add_list, add_report, add_runs, add_show
from .completion import add_completion
from .results import add_results
from .run import add_reproduce, add_run
from .sweep import add_sweep_parser

__all__ = ["main", "build_parser"]


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
        "--figure-style",
        choices=FIGURE_STYLES,
        metavar="{report,paper}",
        help="where figures state their claims' verdicts: report (default) in their titles, paper in their "
        "captions, titles stating the claim alone (also $WGFLOW_FIGURE_STYLE)",
    )
    parser.add_argument(
        "--dpi", type=int, metavar="N", help="resolution of raster figures (default 150; also $WGFLOW_FIGURE_DPI)"
    )
    talk = parser.add_mutually_exclusive_group()
    talk.add_argument(
        "-q",
        "--quiet",
        dest="verbosity",
        action="store_const",
        const=-1,
        default=0,
        help="hide informational lines on stderr (progress, what runs); errors stay, one line each",
    )
    talk.add_argument(
        "-v", "--verbose", dest="verbosity", action="store_const", const=1, help="also print debug detail on stderr"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for add in (add_list, add_show, add_run, add_reproduce, add_report, add_runs, add_sweep_parser, add_results):
        add(sub)
    add_completion(sub, parser)
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
    if args.figure_format or args.dpi is not None:  # the run contexts (and sweep workers) read these
        fmt_, dpi = figure_settings(args.figure_format, args.dpi)
        os.environ[ENV_FORMAT], os.environ[ENV_DPI] = fmt_, str(dpi)
    if args.figure_style:
        os.environ[ENV_STYLE] = figure_style(args.figure_style)
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
    configure_logging(args.verbosity)
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
    except OSError as e:  # a full disk, a permission, a vanished folder: what failed and where, in one line
        where = f": {e.filename}" if e.filename else ""
        print(
            f"wgflow: error: {e.strerror or _one_line(e)}{where}; check the path, its permissions and free space",
            file=sys.stderr,
        )
        return 1
    except BaseException as e:  # SIGTERM: the runner's Terminated (imported lazily: `--help` stays fast)
        runner = sys.modules.get("wgflow.harness.runner")
        if runner is not None and isinstance(e, runner.Terminated):
            print("wgflow: terminated", file=sys.stderr)
            return 143
        raise
    finally:
        close_stores()


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
