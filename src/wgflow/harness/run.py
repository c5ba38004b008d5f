"""Running an experiment without the store (scripts, tests): :func:`run_experiment` into a directory.

:func:`run_and_judge` is the one call both this and the store's runner (:mod:`wgflow.harness.runner`)
make: the experiment's ``run`` with its claims' sources filled in, then the figures bound to claims
get the verdicts in their titles.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any

from .._io import atomic_write_bytes
from ..control import untrained as _untrained
from ..domains import check_seed
from ..errors import ConfigError
from ..plotting.verdicts import figure_claims
from .configs import config_to_dict, make_config
from .context import DirectoryContext, RunContext
from .contract import Experiment, ExperimentResult
from .registration import judge
from .registry import get_experiment

__all__ = ["run_experiment", "run_and_judge", "with_sources"]


def run_experiment(
    name: str,
    preset: str = "quick",
    overrides: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    out_dir: str | os.PathLike | None = None,
    ctx: RunContext | None = None,
    untrained: bool = False,
) -> ExperimentResult:
    """Run one experiment without the store (for scripts and tests).

    ``untrained=True`` runs the negative control: the same pipeline with every training
    step switched off (:func:`wgflow.control.untrained`); no claim should pass. ``seed`` is an
    integer in [0, 2**31) (:func:`wgflow.domains.check_seed`), else :class:`ConfigError`.
    """
    seed = check_seed(seed, "seed")  # as the CLI's --seed: [0, 2**31), an integer
    exp = get_experiment(name)
    cfg = make_config(exp, preset, overrides)
    if ctx is None:
        out_dir = out_dir or tempfile.mkdtemp(prefix=f"wgflow-{name}-")
        ctx = DirectoryContext(out_dir, seed=seed)
    if isinstance(ctx, DirectoryContext):
        _claim_directory(ctx, name, cfg, untrained)
    with _untrained(untrained):
        return run_and_judge(exp, cfg, ctx, preset)


def run_and_judge(exp: type[Experiment], cfg: Any, ctx: RunContext, preset: str | None = None) -> ExperimentResult:
    """``exp().run(cfg, ctx)`` with its claims' sources filled in and judged against the experiment's
    pre-registration at ``preset`` (:func:`wgflow.harness.registration.judge`); then the figures bound
    to claims by ``exp.captions`` get the verdicts in their titles (:mod:`wgflow.plotting.verdicts`)."""

    if isinstance(ctx, DirectoryContext):
        ctx.figure_claims = figure_claims(getattr(exp, "captions", None))
    result = with_sources(exp, exp().run(cfg, ctx))
    result.claims = judge(exp, cfg, preset, result.claims)
    if isinstance(ctx, DirectoryContext):
        ctx.judge_figures(result.claims)
    return result


def with_sources(exp: type[Experiment], result: ExperimentResult) -> ExperimentResult:
    """Claims that name no source of their own cite the experiment's reference."""
    result.claims = [c if c.source else dataclasses.replace(c, source=exp.reference) for c in result.claims]
    return result


def _claim_directory(ctx: DirectoryContext, name: str, cfg: Any, untrained: bool = False) -> None:
    """Record which run owns ``ctx.out_dir`` (run.json); refuse to resume another run's stages.

    Stages are memoised by key only, so a directory holding stages of a different experiment,
    config or seed would silently hand back stale results.
    """
    me = {"experiment": name, "config": config_to_dict(cfg), "seed": ctx.seed}
    if untrained:
        me["untrained"] = True
    path = ctx.out_dir / "run.json"
    if path.exists():
        try:
            other = json.loads(path.read_text())
        except ValueError:
            other = None
        if other != me:
            raise ConfigError(
                f"{ctx.out_dir} holds the stages of another run (different experiment, config or "
                "seed); use a new out_dir or delete that one"
            )
        return
    if (ctx.out_dir / "stages").exists():
        raise ConfigError(f"{ctx.out_dir} holds stages of an unrecorded run; use a new out_dir or delete that one")
    atomic_write_bytes(path, json.dumps(me, indent=1, sort_keys=True).encode())
