"""The README's Python examples run as written."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile("\n".join(blocks), str(README), "exec"), ns)
    assert (tmp_path / "teacher.npz").exists() and (tmp_path / "particles.png").exists()
    assert ns["traj"].risk[-1] < 1e-3 * ns["traj"].risk[0]


# --------------------------------------------------------------------------- commands and inline examples
def _commands() -> list[str]:
    """Every `wgflow ...` command of the README: lines of bash blocks and inline `...` examples."""
    text = README.read_text()
    lines = [ln.split("  #")[0].strip() for b in re.findall(r"```bash\n(.*?)```", text, re.S) for ln in b.splitlines()]
    lines += re.findall(r"`(wgflow [^`]+)`", text)
    return [ln for ln in lines if ln.startswith("wgflow ")]


def _runnable(cmd: str) -> list[str]:
    cmd = re.sub(r"\[--workers 2 \| --dask local\]", "--workers 2", cmd)  # one of the alternatives shown
    return cmd.replace("RUN_ID", "run-that-does-not-exist").split()[1:]


def test_readme_commands_parse_and_validate(tmp_path, monkeypatch, capsys):
    """Cheap commands run for real on an empty store; runs and sweeps are parsed and their configs validated
    (running them is the experiments' own tests' job: `--full` takes hours)."""
    from wgflow.cli import app as cli
    from wgflow.harness import make_config

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WGFLOW_STORE", str(tmp_path / "store"))
    from wgflow.store import Store

    Store(tmp_path / "store")  # an empty store: `runs --check` checks it
    cmds = _commands()
    assert len(cmds) >= 12 and any(c.startswith("wgflow show") for c in cmds)
    for cmd in cmds:
        argv = _runnable(cmd)
        args = cli.build_parser().parse_args(argv)  # SystemExit (exit 2) on a wrong option
        if args.command in ("list", "show", "runs", "report"):
            assert cli.main(argv) == 0, cmd
        elif args.command in ("run", "sweep") and args.name and not args.name.endswith(".py"):
            sets = dict(s.split("=", 1) for s in getattr(args, "sets", []) or [])
            if "data_dir" not in sets:  # a path on the reader's machine
                make_config(args.name, getattr(args, "preset", "quick") or "quick", sets)
    capsys.readouterr()


def test_readme_inline_python_calls_are_valid(monkeypatch):
    """Inline `wg.run_experiment(...)` examples name a real experiment, preset and config keys."""
    import ast

    from wgflow.harness import make_config

    calls = re.findall(r"`(wg\.run_experiment\([^`]*\))`", README.read_text())
    assert calls
    for call in calls:
        node = ast.parse(call, mode="eval").body
        name, preset, overrides = (ast.literal_eval(a) for a in node.args[:3])
        make_config(name, preset, overrides)
