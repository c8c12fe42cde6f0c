"""A plain (non-editable) ``pip install`` of the repository into a fresh virtual environment
builds a newsletter folder that has no templates/ of its own, from any directory.

This is the README's quick start as a user runs it, so it installs the way a user does:
``pip install <repository>`` with build isolation and the declared dependencies (a
``--no-build-isolation`` install would need setuptools>=68 and wheel in the venv, which
a fresh Python 3.11 venv does not have).  It needs the package index that installing
digest needs; without one it fails, it never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GOLDEN_SRC, REPO, run, tree

# What a source checkout may hold that is no part of a clean repository (pip's build/ and dist/
# included: no package of digest's is named like them).
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    "site",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".pytest_cache",
    ".hypothesis",
    ".site*",
    ".venv",
    ".ruff_cache",
    ".mypy_cache",
    "tests",
    "benchmarks",
)
TIMEOUT = 900  # seconds: a guard against a hung download, not a performance assertion


def _env() -> dict[str, str]:
    """The environment without anything that would let the venv see this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


@pytest.mark.slow
def test_pip_installed_digest_builds_with_its_packaged_templates(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a clean copy: building the wheel writes build/ and *.egg-info into it
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    python, digest = venv / "bin" / "python", venv / "bin" / "digest"
    _run([python, "-m", "pip", "install", "--quiet", str(source)], cwd=tmp_path)  # not -e

    work = tmp_path / "work"  # anywhere but the repository
    work.mkdir()
    news = tmp_path / "news"
    shutil.copytree(GOLDEN_SRC, news, ignore=shutil.ignore_patterns("templates", "site", ".digest-cache"))
    assert not (news / "templates").exists()

    # digest and its templates are the installed copy in the venv's site-packages.
    where = _run(
        [
            python,
            "-c",
            (
                "import sysconfig, digest.render.environment as r; print(sysconfig.get_paths()['purelib']);"
                " print(r.BUILTIN_TEMPLATES)"
            ),
        ],
        cwd=work,
    )
    purelib, templates = (Path(line) for line in where.stdout.splitlines())
    assert purelib.is_relative_to(venv) and templates == purelib / "digest" / "render" / "templates"
    assert sorted(p.name for p in templates.iterdir()) == sorted(
        p.name for p in (REPO / "digest" / "render" / "templates").iterdir() if p.is_file()
    )

    # The installed command builds the folder into the same bytes as this checkout does.
    result = _run([digest, "build", "--root", news], cwd=work)
    assert result.stdout.startswith("built 4 issues"), result.stdout  # the golden issues 6-9
    reference = tmp_path / "reference"
    assert run("build", "--root", str(news), "--out", str(reference)).exit_code == 0
    assert tree(news / "site") == tree(reference)

    # And it reads the templates from site-packages: a change there shows in the output.
    base = templates / "_base.html"  # the skeleton of every web page
    base.write_text(base.read_text(encoding="utf-8") + "<!-- from site-packages -->\n", encoding="utf-8")
    _run([digest, "build", "--root", news, "--out", tmp_path / "marked"], cwd=work)
    for page in ("index.html", "issues/7/index.html"):
        assert (
            (tmp_path / "marked" / page).read_text(encoding="utf-8").endswith("</html>\n<!-- from site-packages -->\n")
        ), page

    for command in ([digest, "--help"], [python, "-m", "digest", "--help"], [digest, "build", "--help"]):
        assert "Usage: digest" in _run(command, cwd=work).stdout
