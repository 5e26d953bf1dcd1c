"""The Pythons `make test` runs on are the ones the package says it supports, and a missing one stops it."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIND_PYTHON = ROOT / "scripts" / "find_python.sh"


def makefile_pythons() -> tuple[str, list[str]]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    oldest = re.search(r"^OLDEST_PYTHON := (\S+)$", text, re.MULTILINE)
    newer = re.search(r"^NEWER_PYTHONS := (.+)$", text, re.MULTILINE)
    assert oldest is not None
    assert newer is not None
    return oldest[1], newer[1].split()


def test_classifiers_and_requires_python_name_the_pythons_ci_runs() -> None:
    """pyproject's Python classifiers are exactly the Makefile's matrix, and requires-python starts at its oldest."""
    oldest, newer = makefile_pythons()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    prefix = "Programming Language :: Python :: 3."
    classified = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if c.startswith(prefix)]
    assert classified == [oldest, *newer]
    assert project["requires-python"] == f">={oldest}"
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{oldest.replace('.', '')}"
    assert pyproject["tool"]["mypy"]["python_version"] == oldest


def test_make_test_runs_the_tiers_on_every_newer_python() -> None:
    """`make test` runs the full suite and, beside it, the unit and integration tiers in each newer Python's venv."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_line = next(line for line in text.splitlines() if line.startswith("test:"))
    assert " pytest-all " in test_line
    recipe = text.split("\npytest-all:", 1)[1].split("\n\n", 1)[0]
    assert " pytest-oldest-tiers pytest-oldest-rest $(addprefix pytest-,$(NEWER_PYTHONS))" in recipe
    # the oldest Python's two halves are the whole suite: the two tiers, and testpaths without them
    assert "$(PY) -m pytest -q tests/unit tests/integration" in text.split("pytest-oldest-tiers:", 1)[1]
    rest = text.split("pytest-oldest-rest:", 1)[1]
    assert "$(PY) -m pytest -q --ignore=tests/unit --ignore=tests/integration" in rest
    assert "$(addprefix pytest-,$(NEWER_PYTHONS))" in text.split("pytest-newer:", 1)[1].split("\n\n", 1)[0]
    assert "-m pytest -q tests/unit tests/integration" in text


def test_a_missing_interpreter_is_an_error_naming_it(tmp_path: pathlib.Path) -> None:
    """find_python.sh exits non-zero naming the version when neither pyenv nor PATH has a working one."""
    fake = tmp_path / "bin"
    fake.mkdir()
    # A pyenv-style shim that exists but has no interpreter behind it does not count.
    shim = fake / "python3.99"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    env = {**os.environ, "PYENV_ROOT": str(tmp_path / "pyenv"), "PATH": f"{fake}:/usr/bin:/bin"}
    completed = subprocess.run(
        ["bash", str(FIND_PYTHON), "3.99"], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert completed.returncode == 1
    assert completed.stdout == ""
    assert "no Python 3.99 interpreter found" in completed.stderr


def test_the_interpreter_found_reports_its_version(tmp_path: pathlib.Path) -> None:
    """find_python.sh prints an interpreter that runs and is the version asked for (here, a fake pyenv one)."""
    bindir = tmp_path / "pyenv" / "versions" / "3.98.1" / "bin"
    bindir.mkdir(parents=True)
    python = bindir / "python3.98"
    python.write_text("#!/bin/sh\necho 3.98\n")
    python.chmod(0o755)
    env = {**os.environ, "PYENV_ROOT": str(tmp_path / "pyenv"), "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(
        ["bash", str(FIND_PYTHON), "3.98"], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == str(python)
