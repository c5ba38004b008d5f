"""Arguments and helpers the ``wgflow`` subcommands share: the store, seed, preset and runtime options.

Imports nothing heavy at module level: ``wgflow --help`` builds every parser without torch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Any

from ..domains import MAX_SEED
from ..errors import ConfigError
from ..store import Store

__all__ = [
    "open_store",
    "close_stores",
    "seed_arg",
    "store_arg",
    "preset_args",
    "runtime_args",
    "progress_arg",
    "show_progress",
    "check_runtime",
    "untrained_arg",
    "sets_arg",
    "parse_sets",
    "overrides",
    "log",
    "configure_logging",
]

log = logging.getLogger("wgflow.cli")  # the CLI's informational stderr lines (progress, what runs): -q / -v

# TOML is read by the standard library from Python 3.11, by its backport tomli (a dependency) before
tomllib: Any = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")


_opened: list[Store] = []  # the stores this command opened: closed by close_stores() when it ends


def open_store(args, must_exist: str | None = None):
    """The store of ``--store`` (or the default); ``must_exist``: the error if there is none (nothing created).
    The command's stores are closed by :func:`close_stores` when the command ends."""
    path = getattr(args, "store", None) or None
    if must_exist is None:
        store = Store(path)
    else:
        try:
            store = Store(path, create=False)
        except FileNotFoundError as e:
            raise ConfigError(f"{must_exist}: {e} (name the store with --store, or run an experiment first)") from None
    _opened.append(store)
    return store


def close_stores() -> None:
    """Close the stores the command opened, so SQLite folds its write-ahead log into the database now,
    not whenever the garbage collector finds the connection."""
    while _opened:
        _opened.pop().close()


def seed_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help=f"random seed in [0, {MAX_SEED}] (default 0)")


def store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="PATH", help="store directory (default: $WGFLOW_STORE or ./wgflow-runs)")


def preset_args(p: argparse.ArgumentParser) -> None:
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


def runtime_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        choices=("cpu", "cuda", "auto"),
        default=None,
        help="where flows run (default $WGFLOW_DEVICE, else cpu; auto: CUDA when available)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch intra-op threads per flow (default $WGFLOW_THREADS, else chosen from the work per step, "
        "1 for small steps)",
    )


ENV_DEVICE, ENV_THREADS = "WGFLOW_DEVICE", "WGFLOW_THREADS"


def progress_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="the runs' progress bars on stderr (tqdm): auto (default) on a terminal or in a notebook, "
        "not with --json, -q or in a log file; always, also in a log file (CI, nohup); never",
    )


def show_progress(args) -> bool | None:
    """The runner's ``show_progress`` for ``--progress``: True, False, or None (a terminal or a notebook)."""
    choice = getattr(args, "progress", "auto")
    if choice != "auto":
        return choice == "always"
    return False if getattr(args, "json", False) or not log.isEnabledFor(logging.INFO) else None


def check_runtime(args) -> None:
    """Fill ``--device`` / ``--threads`` from $WGFLOW_DEVICE / $WGFLOW_THREADS when not given, then check both."""
    from ..flows.runtime import check_options  # torch: only once a command runs, never for --help

    if args.device is None and os.environ.get(ENV_DEVICE):
        args.device = os.environ[ENV_DEVICE].strip()
        if args.device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"${ENV_DEVICE} must be cpu, cuda or auto, got {args.device!r}")
    if args.threads is None and os.environ.get(ENV_THREADS):
        try:
            args.threads = int(os.environ[ENV_THREADS])
        except ValueError:
            raise ConfigError(f"${ENV_THREADS} must be a positive integer, got {os.environ[ENV_THREADS]!r}") from None
        if args.threads < 1:
            raise ConfigError(f"${ENV_THREADS} must be a positive integer, got {args.threads}")
    check_options(device=args.device, threads=args.threads)


def untrained_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--untrained",
        action="store_true",
        help="negative control: the same pipeline with every training step switched off "
        "(initialisation, data and evaluation unchanged); no claim should pass",
    )


def sets_arg(p: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE`` (repeatable) and ``--config FILE.toml``: the config overrides, read by :func:`overrides`."""
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE", help=help)
    p.add_argument(
        "--config",
        metavar="FILE.toml",
        help="config keys from a TOML table (key = value lines), parsed and checked like --set; "
        "a key both there and in --set is an error",
    )


def parse_sets(items: list[str]) -> dict[str, str]:
    """``--set KEY=VALUE`` items as a dict; a key given twice is an error (which value was meant?)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects key=value, got {item!r}")
        if key.strip() in out:
            raise ConfigError(f"--set {key.strip()} is given twice ({out[key.strip()]!r} and {value!r}); give it once")
        out[key.strip()] = value
    return out


def read_config_file(path: str) -> dict[str, Any]:
    """The ``KEY = VALUE`` lines of the TOML file ``path`` (a flat table); a one-line ConfigError otherwise."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"--config {path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"--config {path} is not valid TOML: {e}") from None
    nested = [k for k, v in data.items() if isinstance(v, dict)]
    if nested:
        raise ConfigError(f"--config {path}: {nested[0]!r} is a table; give config keys as key = value lines")
    return data


def overrides(args) -> dict[str, Any]:
    """The config overrides of ``--config FILE`` and ``--set``; a key given in both is an error."""
    sets = parse_sets(args.sets)
    from_file = read_config_file(args.config) if getattr(args, "config", None) else {}
    both = sorted(set(sets) & set(from_file))
    if both:
        raise ConfigError(f"{both[0]} is given both in --config {args.config} and by --set; give it once")
    return {**from_file, **sets}


def configure_logging(verbosity: int) -> None:
    """The CLI's log lines as bare lines on the current stderr: -1 (-q) warnings only, 0 info, 1 (-v) debug."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG)
