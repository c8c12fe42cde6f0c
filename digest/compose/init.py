"""`digest init DIR`: a new newsletter folder that builds at once.

Rules:
- Only into a folder that does not exist or is empty: init never writes over anything.
- All or nothing: the folder is put together under a temporary name beside DIR and
  renamed into place, so an interrupted init leaves no half newsletter.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from digest import __version__
from digest.compose.new import skeleton
from digest.core.config import CONFIG_FILE
from digest.core.errors import DigestError, Problem
from digest.core.markdown import url_problem

WORKFLOW = ".github/workflows/digest.yml"


def init_newsletter(folder: Path, *, title: str | None = None, url: str = "https://example.org/", today: dt.date | None = None) -> list[str]:
    """Create the newsletter in ``folder``; return the files written, relative to it."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise DigestError([Problem(str(folder), None, "is not a folder; nothing was written")])
    if (folder / CONFIG_FILE).exists():
        raise DigestError([Problem(str(folder), None, "already holds a newsletter (config.yaml); init starts a new one in an empty folder")])
    if folder.is_dir() and any(folder.iterdir()):
        raise DigestError([Problem(str(folder), None, "is not empty; init starts a new newsletter in an empty or new folder")])
    if why := url_problem(url, allow_mailto=False):
        raise DigestError([Problem("--url", None, why)])
    name = title or folder.resolve().name.replace("-", " ").replace("_", " ").strip().title() or "Weekly Digest"
    files = _files(name, url if url.endswith("/") else url + "/", today or dt.date.today())
    parent = folder.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{folder.name}.init-"))
    try:
        for rel, text in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text, encoding="utf-8")
        os.chmod(staging, 0o777 & ~_umask())
        try:
            os.replace(staging, folder.resolve())  # over an empty folder too; fails if one appeared with files in it
        except OSError as e:
            raise DigestError([Problem(str(folder), None, f"cannot be created: {e.strerror or e}; nothing was written")]) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return list(files)


def _files(title: str, url: str, today: dt.date) -> dict[str, str]:
    here = resources.files("digest.compose") / "skeleton"
    config = (
        (here / "config.yaml").read_text(encoding="utf-8")
        .replace("__TITLE_YAML__", json.dumps(title, ensure_ascii=False))  # a JSON string is a YAML string
        .replace("__TITLE__", " ".join(title.split()))
        .replace("__URL__", url)
    )
    return {
        CONFIG_FILE: config,
        "issues/0001.yaml": skeleton(1, today),
        "templates/README.md": (here / "templates-README.md").read_text(encoding="utf-8"),
        ".gitignore": (here / "gitignore").read_text(encoding="utf-8"),
        WORKFLOW: (here / "workflow.yml").read_text(encoding="utf-8").replace("__REQUIREMENT__", f"digest=={__version__}"),
    }


def _umask() -> int:
    from digest.compose.edit import FILE_MODE

    return 0o666 & ~FILE_MODE
