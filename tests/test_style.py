"""Lines fit in 120 columns and the code is formatted one way: ruff, with the settings in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow  # a checker (ruff over every Python file): the fast tier is -m 'not slow'


def _python_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True)
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): every Python file of the project
        return [
            str(p.relative_to(REPO)) for top in ("digest", "tests", "benchmarks") for p in (REPO / top).rglob("*.py")
        ]
    return listed.stdout.split()


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["lint", "format"])
def test_ruff_finds_nothing(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *_python_files()], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
