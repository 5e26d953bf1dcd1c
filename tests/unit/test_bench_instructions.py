"""bench/instructions.py: its count is repeatable and follows the work done, and it refuses what it cannot run."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "instructions.py"


def counts(*programs: str) -> list[int]:
    """`instructions_of` for `python -c PROGRAM`, each program in turn, as bench/instructions.py counts."""
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(SCRIPT.parent)!r})\n"
        "import instructions\n"
        "for program in sys.argv[1:]:\n"
        # -S: no site-packages to import at start-up, which valgrind makes slow. Not -I or -E: they would
        # ignore PYTHONHASHSEED, and with a random seed the same program counts a few percent apart.
        "    print(instructions.instructions_of([sys.executable, '-S', '-c', program]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *programs], capture_output=True, text=True, timeout=300, check=True
    )
    return [int(line) for line in done.stdout.split()]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_the_count_is_repeatable_and_grows_with_the_work() -> None:
    """The same program counts the same twice (the method's premise); a loop 100,000 steps longer counts more."""
    short = "total = 0\nfor i in range(100_000): total += i"
    long = "total = 0\nfor i in range(200_000): total += i"
    first, second, longer = counts(short, short, long)
    assert abs(first - second) <= first / 1000, (first, second)
    assert longer - first > 100_000, (first, longer)


def test_without_valgrind_it_says_what_to_install() -> None:
    """No valgrind on PATH: exit 2 and a message naming the package, not a traceback."""
    environment = {**os.environ, "PATH": str(ROOT / "no-such-directory")}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=environment, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "valgrind is not installed" in done.stderr
    assert "apt-get install valgrind" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("arguments", [["--sends", "0"], ["--repeat", "0"], ["--sends", "many"]])
def test_bad_counts_are_refused(arguments: list[str]) -> None:
    """A count below one, or not a number, is a usage error (exit 2), before any server starts."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "usage:" in done.stderr
    assert "Traceback" not in done.stderr
