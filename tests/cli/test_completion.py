"""`wgflow completion bash|zsh`: a completion script generated from the parser, run here in a real bash."""

import shutil
import subprocess

import pytest

from wgflow.cli import app as cli


def _script(capsys, shell: str) -> str:
    assert cli.main(["completion", shell]) == 0
    return capsys.readouterr().out


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(
    "words, expected",
    [
        (["wgflow", "ru"], "run runs"),
        (["wgflow", "--dpi", "300", "run", "teacher-s"], "teacher-student"),  # a global option's value skipped
        (["wgflow", "run", "consistency", "--device", "c"], "cpu cuda"),
        (["wgflow", "runs", "--for"], "--format"),
        (["wgflow", "runs", "--experiment", "mf-"], "mf-langevin"),
        (["wgflow", "reproduce", "--progress", ""], "auto always never"),
        (["wgflow", "completion", "z"], "zsh"),
        (["wgflow", "show", "nothing-like-it"], ""),
    ],
)
def test_bash_completes_commands_options_choices_and_experiment_names(capsys, tmp_path, words, expected):
    path = tmp_path / "wgflow.bash"
    path.write_text(_script(capsys, "bash"))
    arr = " ".join(f"'{w}'" for w in words)
    code = f'source {path}; COMP_WORDS=({arr}); COMP_CWORD={len(words) - 1}; _wgflow; echo "${{COMPREPLY[*]}}"'
    r = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == expected


def test_zsh_script_loads_bash_completion_and_both_parse(capsys, tmp_path):
    zsh = _script(capsys, "zsh")
    assert zsh.splitlines()[1] == "autoload -U +X bashcompinit && bashcompinit"
    if shutil.which("bash"):
        path = tmp_path / "wgflow.bash"
        path.write_text(_script(capsys, "bash"))
        assert subprocess.run(["bash", "-n", str(path)], timeout=30).returncode == 0
