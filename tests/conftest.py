"""Shared fixtures: newsletter folders on disk and a CLI runner."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import textwrap
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from digest.cli import main
from digest.core.config import load_config
from digest.pipeline import build as pipeline
from digest.pipeline.build import Report

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN_SRC = FIXTURES / "golden"

MINIMAL_CONFIG = """\
title: Test Weekly
url: https://test.example.org/
"""

MINIMAL_ISSUE = """\
date: 2024-01-05
sections:
  - title: News
    items:
      - title: First item
        url: https://example.com/1
        summary: A *short* blurb.
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--regen-golden", action="store_true", help="Rewrite tests/golden/ from the current output.")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The build cache (digest.core.cachedir) lives in the tests' own folder, not in the
    home folder of whoever runs them; subprocesses inherit it."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture
def regen(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--regen-golden"))


@pytest.fixture
def newsletter(tmp_path: Path) -> Callable[..., Path]:
    """Write a newsletter folder: newsletter(config=..., issues={"0001.yaml": "..."})."""

    def make(
        config: str = MINIMAL_CONFIG,
        issues: dict[str, str | bytes] | None = None,
        templates: dict[str, str] | None = None,
    ) -> Path:
        root = tmp_path / "news"
        root.mkdir()
        (root / "config.yaml").write_text(textwrap.dedent(config), encoding="utf-8")
        (root / "issues").mkdir()
        for name, body in (issues if issues is not None else {"0001.yaml": MINIMAL_ISSUE}).items():
            path = root / "issues" / name
            if isinstance(body, bytes):
                path.write_bytes(body)
            else:
                path.write_text(textwrap.dedent(body), encoding="utf-8")
        if templates:
            (root / "templates").mkdir()
            for name, body in templates.items():
                (root / "templates" / name).write_text(body, encoding="utf-8")
        return root

    return make


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A private copy of the example newsletter in this repository (issues 0041-0043
    published, the latest of 2026-03-20; 0044 a draft of 2026-03-27 with one section, "Top stories")."""
    root = tmp_path / "example"
    root.mkdir()
    shutil.copy2(REPO / "config.yaml", root)
    shutil.copytree(REPO / "issues", root / "issues")
    return root


# The hostile cases' valid newsletter (tests/fixtures/hostile/base), and what its previous site holds.
HOSTILE_BASE = FIXTURES / "hostile" / "base"
SENTINEL = b"the previous site\n"


@pytest.fixture
def news(tmp_path: Path) -> Path:
    """A copy of the hostile cases' base newsletter with a previous site (SENTINEL) and an empty templates/."""
    root = tmp_path / "news"
    shutil.copytree(HOSTILE_BASE, root)
    (root / "site").mkdir()
    (root / "site" / "index.html").write_bytes(SENTINEL)
    (root / "site" / ".digest-site").write_bytes(SENTINEL)
    (root / "templates").mkdir()
    return root


@pytest.fixture
def golden_root(tmp_path: Path) -> Path:
    """A private copy of tests/fixtures/golden (tests may build into it)."""
    root = tmp_path / "golden"
    shutil.copytree(GOLDEN_SRC, root)
    return root


def build(root: Path, out: Path | None = None, **options: Any) -> Report:
    """digest.pipeline.build.build for the newsletter in ``root`` (its config loaded here, as the CLI does)."""
    return pipeline.build(load_config(root), out, **options)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def wrapped(text: str) -> re.Pattern[str]:
    """``text`` as the text email writes it, wrapped at 78 columns: exactly as given, but
    that a run of spaces may instead be a line break, followed by the next line's prefix
    (a list item's indent, a quote's "> ")."""
    words = re.split(r" +", text)
    spaces = re.findall(r" +", text)
    pattern = re.escape(words[0])
    for run_, word in zip(spaces, words[1:], strict=True):
        pattern += f"(?:{run_}|\\n(?: |> )*)" + re.escape(word)
    return re.compile(pattern)


def columns(line: str) -> int:
    """The columns ``line`` takes in a monospace mail client: wide (CJK) characters two,
    combining marks and format characters (bidi marks, ZWJ) none."""
    return sum(
        (
            0
            if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf")
            else 2
            if unicodedata.east_asian_width(ch) in ("W", "F")
            else 1
        )
        for ch in line
    )


@contextlib.contextmanager
def immutable(folder: Path) -> Iterator[None]:
    """``folder`` made unwritable even for root (chattr +i) while the block runs: a read-only place."""
    import subprocess

    if shutil.which("chattr") is None:
        pytest.fail("chattr (e2fsprogs) is needed to make a folder unwritable for root")
    flag = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if flag.returncode != 0:
        pytest.fail(f"chattr +i failed on this filesystem: {flag.stderr}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
