"""The wheel a user installs: typed (PEP 561), with dependency floors that work, and a citation file that agrees."""

import email
import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from wgflow._version import __version__

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the source tree (the build writes build/ and *.egg-info next to it)."""
    setuptools_major = int(importlib.metadata.version("setuptools").split(".")[0])
    if setuptools_major < 77:
        pytest.skip("building needs setuptools >= 77 in this environment (--no-build-isolation, no network)")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    (whl,) = out.glob("wgflow-*.whl")
    return whl


def _metadata(whl: Path) -> email.message.Message:
    with zipfile.ZipFile(whl) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(z.read(name))


@pytest.mark.slow
def test_wheel_ships_py_typed_and_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "wgflow/py.typed" in names
    assert {"wgflow/__init__.py", "wgflow/__main__.py", "wgflow/flows/trajectory.py"} <= names


@pytest.mark.slow
def test_wheel_metadata_has_the_floors_that_work(wheel):
    meta = _metadata(wheel)
    requires = set(meta.get_all("Requires-Dist"))
    # ot.sliced.sliced_plans (the W2 bracket) exists from POT 0.9.7; torch 2.3 is the first built against NumPy 2
    assert {"pot>=0.9.7", "torch>=2.3"} <= requires
    assert meta["Version"] == __version__
    assert meta["License-Expression"] == "MIT"
    assert "Typing :: Typed" in meta.get_all("Classifier")
    extras = set(meta.get_all("Provides-Extra"))
    assert {"all", "docs", "dev", "test", "xarray", "pandas"} <= extras
    # `all` holds every optional dependency of the other extras (the test, docs and dev tools aside)
    by_extra: dict[str, set[str]] = {}
    for r in requires:
        m = re.fullmatch(r'(.+?); extra == "(\w+)"', r)
        if m:
            by_extra.setdefault(m.group(2), set()).add(m.group(1))
    for extra in ("dask", "pandas", "tensorboard", "xarray", "docs"):
        assert by_extra[extra] <= by_extra["all"], extra


def test_build_requires_setuptools_that_knows_spdx_licenses():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'requires = \["setuptools>=77"\]', text)
    assert (ROOT / "src" / "wgflow" / "py.typed").exists()


def test_citation_file_names_this_version():
    text = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in text
    assert re.search(rf'^version: "{re.escape(__version__)}"$', text, re.M)
    assert re.search(r"^license: MIT$", text, re.M)
    assert "wgflow developers" in text


def test_readme_opens_with_install():
    text = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "Install"
    install = text.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "--index-url https://download.pytorch.org/whl/cpu" in install
    assert "make demo" in install and "make test" in install


def _pyproject_floors() -> dict[str, str]:
    """Each direct dependency's lower bound, as pyproject.toml states it ({name: version})."""
    from wgflow.harness.registration import tomllib  # tomllib, or tomli before Python 3.11

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = {}
    for dep in deps:
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)(;.*)?", dep.replace(" ", ""))
        assert m, f"{dep!r}: every direct dependency states a floor (NAME>=VERSION)"
        if not m.group(3):  # tomli: only below Python 3.11, which the floors venv is not
            floors[m.group(1).lower()] = m.group(2)
    return floors


def _padded(version: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in version.split("."))
    return parts + (0,) * (3 - len(parts))


def test_floors_constraints_are_pyprojects_lower_bounds():
    """constraints/floors.txt (installed by `make floors`) pins each direct dependency at its pyproject
    floor; torch alone is left out, for the reason the file and the Makefile state."""
    pins = dict(
        re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9.]+)", line).groups()  # type: ignore[union-attr]
        for line in (ROOT / "constraints" / "floors.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    floors = _pyproject_floors()
    assert set(pins) == set(floors) - {"torch"}
    for name, version in pins.items():
        assert _padded(version) == _padded(floors[name]), name
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test:.*\bfloors\b", makefile, re.M), "make test runs the floors check"
    assert "-c constraints/floors.txt" in makefile
