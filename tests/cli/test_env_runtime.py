"""$WGFLOW_DEVICE / $WGFLOW_THREADS: the defaults of --device / --threads, checked the same way."""

from __future__ import annotations

import pytest

from wgflow.cli import app as cli
from wgflow.harness import runner


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


class _Seen(Exception):
    pass


def test_environment_gives_the_defaults_and_the_flags_win(capsys, tmp_path, monkeypatch):
    seen = []

    def execute(*a, **kw):
        seen.append((kw["device"], kw["threads"]))
        raise _Seen

    monkeypatch.setattr(runner, "execute", execute)
    monkeypatch.setenv("WGFLOW_DEVICE", "cpu")
    monkeypatch.setenv("WGFLOW_THREADS", "2")
    for argv, want in (([], ("cpu", 2)), (["--threads", "1", "--device", "auto"], ("auto", 1))):
        with pytest.raises(_Seen):
            cli.main(["run", "fake-machinery", "--store", str(tmp_path / "s"), *argv])
        assert seen[-1] == want


@pytest.mark.parametrize("var, value", [("WGFLOW_DEVICE", "gpu"), ("WGFLOW_THREADS", "x"), ("WGFLOW_THREADS", "0")])
def test_bad_environment_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    for cmd in (["run", "fake-machinery"], ["reproduce", "fake-machinery"], ["sweep", "fake-machinery"]):
        code, out, err = run(capsys, *cmd, "--store", tmp_path / "s")
        assert code == 2 and out == "" and var in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "s").exists()
