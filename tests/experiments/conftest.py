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
