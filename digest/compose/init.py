"""`digest init DIR`: a new newsletter folder that builds at once.

Rules:
- Only into a folder that does not exist or is empty: init never writes over anything.
- All or nothing: the folder is put together under a temporary name beside DIR and
  renamed into place, so an interrupted init leaves no half newsletter.
- CI installs digest from requirements.txt, pinned to where this digest came from as pip
  recorded it (PEP 610: a VCS commit or a remote archive). Never a bare `digest`: that name
  on PyPI is an unrelated project. An install from a folder on this machine gives no source
  a runner can reach, so the file then says what to add, and the workflow fails with that
  message until it is added.
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
REQUIREMENTS = "requirements.txt"
_REQUIREMENTS_HEAD = f"# What the CI workflow ({WORKFLOW}) installs to check and build this newsletter.\n"
_NO_SOURCE = (
    "# digest was installed from a folder on this machine, which CI cannot reach: add one line\n"
    "# saying where to install it from, for example\n"
    "#   digest @ git+https://github.com/OWNER/digest@v{version}\n"
    '# (PyPI\'s "digest" is an unrelated project: never a bare `digest`.)\n'
)


def init_newsletter(
    folder: Path,
    *,
    title: str | None = None,
    url: str = "https://example.org/",
    today: dt.date | None = None,
    requirement: str | None = None,
) -> list[str]:
    """Create the newsletter in ``folder``; return the files written, relative to it.
    ``requirement``: what CI installs digest from (see :func:`installed_from`); None writes
    a requirements.txt that says what to add."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise DigestError([Problem(str(folder), None, "is not a folder; nothing was written")])
    if (folder / CONFIG_FILE).exists():
        raise DigestError(
            [
                Problem(
                    str(folder),
                    None,
                    "already holds a newsletter (config.yaml); init starts a new one in an empty folder",
                )
            ]
        )
    try:
        non_empty = folder.is_dir() and any(folder.iterdir())
    except OSError as e:
        raise DigestError(
            [Problem(str(folder), None, f"cannot be read: {e.strerror or e}; nothing was written")]
        ) from None
    if non_empty:
        raise DigestError(
            [Problem(str(folder), None, "is not empty; init starts a new newsletter in an empty or new folder")]
        )
    if why := url_problem(url, allow_mailto=False):
        raise DigestError([Problem("--url", None, why)])
    if requirement is not None and (not requirement.strip() or any(c in requirement for c in "\r\n\x00")):
        raise DigestError(
            [
                Problem(
                    "--requirement",
                    None,
                    "must be one line naming where to install digest from, e.g. 'digest @"
                    " git+https://github.com/OWNER/digest@v1'",
                )
            ]
        )
    name = title or _title_from(folder.resolve().name) or "Weekly Digest"
    files = _files(name, url if url.endswith("/") else url + "/", today or dt.date.today(), requirement)
    try:
        _put_in_place(folder, files)
    except OSError as e:  # a parent that is a file, a folder digest may not write in, a full disk...
        raise DigestError(
            [
                Problem(
                    str(folder),
                    None,
                    f"cannot be created in {folder.resolve().parent}: {e.strerror or e}; nothing was written",
                )
            ]
        ) from None
    return list(files)


def _title_from(name: str) -> str:
    """A folder's name as a title: "civic-weekly" → "Civic Weekly"; each word's first letter is
    capitalised and the rest kept as written ("My NGO" stays "My NGO", not str.title's "My Ngo")."""
    return " ".join(w[:1].upper() + w[1:] for w in name.replace("-", " ").replace("_", " ").split())


def _put_in_place(folder: Path, files: dict[str, str]) -> None:
    """Write ``files`` into a staging folder beside ``folder``, then rename it into place."""
    parent = folder.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{folder.name}.init-"))
    try:
        for rel, text in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text, encoding="utf-8")
        os.chmod(staging, 0o777 & ~_umask())
        os.replace(staging, folder.resolve())  # over an empty folder too; fails if one appeared with files in it
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def installed_from(direct_url: object = ...) -> str | None:
    """The requirement that installs this very digest on another machine, from pip's record
    of where it came from (``direct_url``: the parsed direct_url.json; default: read it);
    None when it came from this machine's disk or an index that CI would not use."""
    if direct_url is ...:
        from importlib import metadata

        try:
            text = metadata.distribution("digest").read_text("direct_url.json")
            direct_url = json.loads(text) if text else None
        except (metadata.PackageNotFoundError, ValueError):
            direct_url = None
    if not isinstance(direct_url, dict) or not isinstance(where := direct_url.get("url"), str):
        return None
    if not where.lower().startswith(("https://", "http://", "ssh://", "git@")) or any(c.isspace() for c in where):
        return None  # file: URLs (a folder or a wheel on this disk) are no use to a runner
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict):
        if not isinstance(vcs.get("vcs"), str) or not isinstance(vcs.get("commit_id"), str):
            return None
        spec = f"digest @ {vcs['vcs']}+{where}@{vcs['commit_id']}"
    elif isinstance(direct_url.get("archive_info"), dict):
        spec = f"digest @ {where}"
    else:
        return None
    sub = direct_url.get("subdirectory")
    return spec + (f"#subdirectory={sub}" if isinstance(sub, str) and sub else "")


def _requirements(requirement: str | None) -> str:
    if requirement is None:
        return _REQUIREMENTS_HEAD + _NO_SOURCE.format(version=__version__)
    return _REQUIREMENTS_HEAD + requirement.strip() + "\n"


def _files(title: str, url: str, today: dt.date, requirement: str | None) -> dict[str, str]:
    here = resources.files("digest.compose") / "skeleton"
    config = (
        (here / "config.yaml")
        .read_text(encoding="utf-8")
        .replace("__TITLE_YAML__", json.dumps(title, ensure_ascii=False))  # a JSON string is a YAML string
        .replace("__TITLE__", " ".join(title.split()))
        .replace("__URL__", url)
    )
    return {
        CONFIG_FILE: config,
        "issues/0001.yaml": skeleton(1, today),
        "templates/README.md": (here / "templates-README.md").read_text(encoding="utf-8"),
        ".gitignore": (here / "gitignore").read_text(encoding="utf-8"),
        REQUIREMENTS: _requirements(requirement),
        WORKFLOW: (here / "workflow.yml").read_text(encoding="utf-8"),
    }


def _umask() -> int:
    from digest.compose.edit import FILE_MODE

    return 0o666 & ~FILE_MODE
