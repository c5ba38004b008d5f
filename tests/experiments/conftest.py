"""Fixtures of the experiments' tests: the figures of a scaled-down run are checked during that run."""

from __future__ import annotations

import pytest


class FigureRecorder:
    """Every figure saved while it is active, with its :func:`wgflow.plotting.figures.figure_problems` as saved
    (after :func:`~wgflow.plotting.figures.finish`, with the verdicts of the claims it is bound to)."""

    def __init__(self) -> None:
        self.found: dict[str, list[str]] = {}

    def check(self, name: str) -> None:
        """Figures fit for a paper: some were saved, none has a problem, every figure ``captions`` binds was saved."""
        from wgflow.experiments import get_experiment
        from wgflow.plotting.verdicts import figure_claims

        assert self.found, f"{name} saved no figure"
        assert {k: v for k, v in self.found.items() if v} == {}
        saved = {k.rsplit(".", 1)[0] for k in self.found}
        assert set(figure_claims(get_experiment(name).captions)) <= saved, "captions name a figure never saved"


@pytest.fixture
def paper_figures(monkeypatch) -> FigureRecorder:
    """Record the problems of every figure the test's run saves; the test calls ``paper_figures.check(name)``."""
    import wgflow.plotting.figures as plotting

    recorder = FigureRecorder()
    save = plotting.save

    def recording_save(fig, path, dpi=None):
        save(fig, path, dpi)
        recorder.found[str(path).rsplit("/", 1)[-1].replace(".tmp", "")] = plotting.figure_problems(fig)

    monkeypatch.setattr(plotting, "save", recording_save)
    return recorder


#: why a claim of a scaled-down run may be unregistered: its run's design is not a preset's (or it is post hoc)
_DESIGN_ONLY = (
    "registered ",
    "not registered: design ",
    "not registered: this preset's design",
    "not registered: post hoc",
)


@pytest.fixture(autouse=True)
def claims_as_registered(monkeypatch):
    """Every run of an experiment's test has its claims checked against the experiment's
    ``registration.toml``: a claim missing from it, or whose rule, null, method or registered
    config key differs from it, fails the test (only the scaled-down design may differ)."""
    import wgflow.harness.run as harness_run

    judged = []
    judge = harness_run.judge

    def recording_judge(exp, cfg, preset, claims):
        out = judge(exp, cfg, preset, claims)
        judged.extend((exp.name, c) for c in out)
        return out

    monkeypatch.setattr(harness_run, "judge", recording_judge)
    yield
    wrong = [f"{name}/{c.name}: {c.registration}" for name, c in judged if not c.registration.startswith(_DESIGN_ONLY)]
    assert wrong == [], "claims differ from their pre-registration:\n" + "\n".join(wrong)


#: the experiments whose runs train particle flows: each stores trajectories (ctx.save_trajectory)
FLOW_EXPERIMENTS = {
    "teacher-student",
    "cb-global-convergence",
    "cb-implicit-bias",
    "consistency",
    "lazy-vs-active",
    "mf-langevin",
    "mmn-gaussians",
    "rve-3spin",
    "rve-fluctuations",
}


@pytest.fixture(autouse=True)
def store_checked_runs(monkeypatch, tmp_path_factory):
    """Every experiment run of these tests goes through the store, and the store then checks clean.

    ``run_experiment`` into a directory runs the experiment in a :class:`StoreContext` of a fresh store
    instead (the stages already in the directory seeded into it, so memoised stages stay memoised), records
    it as the runner does, asserts that :meth:`Store.check` (``wgflow runs --check``) finds nothing, since
    sizes and checksums are recorded once the figures carry their verdicts, and copies the run's files
    back into the directory the test reads.
    """
    import shutil
    from pathlib import Path

    from wgflow.harness import run as run_module
    from wgflow.harness.context import DirectoryContext
    from wgflow.harness.runner import _record_artifacts
    from wgflow.harness.store_context import StoreContext
    from wgflow.interop import load_trajectory
    from wgflow.store import Store

    inner = run_module.run_and_judge

    def through_store(exp, cfg, ctx, preset=None):
        if type(ctx) is not DirectoryContext:
            return inner(exp, cfg, ctx, preset)
        with Store(tmp_path_factory.mktemp("store")) as store:
            rid = store.create_run(exp.name, {}, ctx.seed)
            run = StoreContext(store, rid, ctx.seed, show_progress=False, quiet=True)
            memoised = (ctx.out_dir / "stages").is_dir()
            if memoised:
                shutil.copytree(ctx.out_dir / "stages", run.out_dir / "stages", dirs_exist_ok=True)
            result = inner(exp, cfg, run, preset)
            _record_artifacts(store, rid, result)
            store.complete_run(rid, [c.to_dict() for c in result.claims], [])
            assert store.check() == [], f"{exp.name}: `wgflow runs --check` fails on a fresh store"
            if exp.name in FLOW_EXPERIMENTS and not memoised:  # its flows are there to be read by run id
                names = [a["name"] for a in store.artifacts(rid, kind="trajectory")]
                assert names, f"{exp.name} trained flows but stored no trajectory"
                assert load_trajectory(store, rid, names[0]).snapshots.ndim == 3
            shutil.copytree(run.out_dir, ctx.out_dir, dirs_exist_ok=True)
            result.artifacts = {
                k: str(ctx.out_dir / Path(p).relative_to(run.out_dir)) if Path(p).is_relative_to(run.out_dir) else p
                for k, p in result.artifacts.items()
            }
        return result

    monkeypatch.setattr(run_module, "run_and_judge", through_store)
