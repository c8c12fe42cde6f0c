"""Running digest as an unprivileged user, for the tests whose point is permissions.

The suite runs as root in CI, where permissions would hide nothing (root may read and
delete anything): those tests start digest as ``nobody`` instead.  nobody must then be able
to read the interpreter, the installed packages and digest's code; a checkout or a virtual
environment in a private folder (a home folder, anything ``mktemp -d`` made) is not
readable to it.  So this module checks once what nobody can import, and if the checkout or
its packages are out of its reach, copies digest's code and the packages it needs into a
world-readable temporary folder of its own (the tests change no permission of the user's
folders).  What cannot be arranged (no privileges to drop, an interpreter nobody cannot
run) is one clear failure, reported once; the other tests that need it are skipped,
pointing at it.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

NOBODY = 65534
REPO = Path(__file__).resolve().parent.parent
PROBE = "import digest.cli, jinja2, lxml, mjml, premailer, yaml; print(digest.__file__)"  # what a build imports

_state: dict[str, object] = {}


def _drop() -> list[str]:
    """The command prefix that runs a program as nobody (util-linux's setpriv)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise _Missing("setpriv (util-linux) is needed to run digest as nobody: install util-linux")
    return [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]


class _Missing(Exception):
    pass


def _probe(python: str, pythonpath: str, code: Path) -> str | None:
    """None if nobody's ``python`` imports what a build needs, and digest from ``code``; else why not."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": pythonpath, "HOME": "/", "LANG": "C.UTF-8"}
    done = subprocess.run([*_drop(), python, "-c", PROBE], capture_output=True, text=True, env=env, cwd="/")
    if done.returncode != 0:
        return done.stderr.strip()[-300:]
    if not Path(done.stdout.strip()).is_relative_to(code):  # another checkout's, through an installed path
        return f"it imports digest from {done.stdout.strip()}, not from {code}"
    return None


def _requirements(name: str) -> set[str]:
    """``name``'s installed distribution and every distribution it needs (extras left out)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        wanted = re.match(r"[A-Za-z0-9_.-]+", todo.pop())
        assert wanted is not None
        key = re.sub(r"[-_.]+", "-", wanted.group()).lower()
        if key in seen:
            continue
        try:
            dist = importlib.metadata.distribution(key)
        except importlib.metadata.PackageNotFoundError:
            continue  # a requirement for another Python or platform
        seen.add(key)
        todo += [r for r in dist.requires or [] if "extra ==" not in r]
    return seen


def _readable_copy() -> Path:
    """digest's code and the packages it needs, copied where anyone may read them."""
    folder = Path(tempfile.mkdtemp(prefix="digest-nobody-", dir="/tmp"))
    atexit.register(shutil.rmtree, folder, True)
    folder.chmod(0o755)
    packages = folder / "site-packages"
    for key in sorted(_requirements("digest") - {"digest"}):
        dist = importlib.metadata.distribution(key)
        for file in dist.files or []:
            source = Path(str(file.locate()))
            if file.parts[0] == ".." or not source.is_file():
                continue  # scripts in bin/, files the record lists but the install lacks
            target = packages / file
            target.parent.mkdir(parents=True, exist_ok=True)
            _share(source, target)
    shutil.copytree(
        REPO / "digest", folder / "code" / "digest", ignore=shutil.ignore_patterns("__pycache__"), copy_function=_share
    )
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    return folder


def _share(source: str | Path, target: str | Path) -> None:
    """A file anyone may read at ``target``: a hard link when the file itself is readable to
    all (only its folder was private), else a copy made readable."""
    if os.stat(source).st_mode & 0o004:
        try:
            os.link(source, target)
            return
        except OSError:  # another file system
            pass
    shutil.copy2(source, target)
    os.chmod(target, 0o644)


def _arrange() -> tuple[list[str], str]:
    """The command that starts Python as nobody, and the PYTHONPATH it needs."""
    if os.geteuid() != 0:
        raise _Missing("these tests drop privileges to nobody: run the suite as root (as CI does)")
    python = sys.executable
    here = os.pathsep.join([str(REPO), *(p for p in sys.path if p.endswith("site-packages"))])
    first = _probe(python, here, REPO / "digest")
    if first is None:
        return [*_drop(), python], here
    # The checkout or its packages are out of nobody's reach: a readable copy of both, run by
    # the interpreter itself (a virtual environment's python may be in the private folder too).
    copy = _readable_copy()
    python = getattr(sys, "_base_executable", sys.executable)
    there = os.pathsep.join([str(copy / "code"), str(copy / "site-packages")])
    second = _probe(python, there, copy / "code" / "digest")
    if second is not None:
        raise _Missing(
            f"nobody (uid {NOBODY}) cannot run digest: with this checkout ({first}), "
            f"nor from a readable copy of it run by {python} ({second}): "
            "use a Python installed where every user can read it (e.g. /usr/bin/python3)"
        )
    return [*_drop(), python], there


def nobody() -> tuple[list[str], str]:
    """The command prefix that runs Python as nobody, and the PYTHONPATH that lets it import
    digest.  Checked once per session: if it cannot be arranged, the first test to ask
    fails with why, and every later one is skipped with a pointer to that failure."""
    if "failed" in _state:
        pytest.skip(f"cannot run digest as nobody (see the first failure): {_state['failed']}")
    if "ready" not in _state:
        try:
            _state["ready"] = _arrange()
        except _Missing as e:
            _state["failed"] = str(e)
        if "failed" in _state:
            pytest.fail(str(_state["failed"]), pytrace=False)
    ready = _state["ready"]
    assert isinstance(ready, tuple)
    return ready
