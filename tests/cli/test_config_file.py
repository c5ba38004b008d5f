"""`--config FILE.toml`: config keys from a file, parsed and checked like `--set`."""

from __future__ import annotations

import json

import pytest

from wgflow.cli import app as cli


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_config_file_sets_the_config(capsys, tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('steps = 12\nx = 2\nlabel = "from a file"\n', encoding="utf-8")
    s = tmp_path / "s"
    code, out, _ = run(capsys, "run", "fake-machinery", "--config", f, "--set", "mode=ok", "--store", s, "--json")
    assert code == 0, out
    code, out, _ = run(capsys, "runs", "--store", s, "--json")
    (row,) = json.loads(out)
    assert row["overrides"] == {"steps": 12, "x": 2.0, "label": "from a file"}


@pytest.mark.parametrize(
    "text, key",
    [
        ("steps = 12\n", "given both"),  # also --set steps=...
        ("steps = [1, 2\n", "not valid TOML"),
        ("[table]\nsteps = 1\n", "'table' is a table"),
        ("x = -1.0\n", "'x'"),
        ("bogus = 1\n", "'bogus'"),
        (None, "c.toml"),  # no such file
    ],
)
def test_bad_config_file_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, text, key):
    f = tmp_path / "c.toml"
    if text is not None:
        f.write_text(text, encoding="utf-8")
    argv = ["--set", "steps=5"] if key == "given both" else []
    for cmd in (["run", "fake-machinery"], ["sweep", "fake-machinery", "--grid", "mode=ok"]):
        code, out, err = run(capsys, *cmd, "--config", f, *argv, "--store", tmp_path / "s")
        assert code == 2 and out == "" and key in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "s").exists()
