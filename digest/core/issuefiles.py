"""Which files in issues/ are issues: names, numbers, editors' backups, and the folder's safety.

Rules:
- An issue file is ``issues/<number>.yaml`` (digits 0-9, lower-case .yaml); leading zeros
  are allowed, and two files for one number (``0263.yaml`` and ``263.yaml``) are an error.
- No file is dropped in silence: a name meant as an issue but not right (``0002.YAML``,
  ``3.yml``, ``0003.yaml `` with a trailing space, ``٢٦٥.yaml``, ``issue-2.yaml``) is an
  error that says how to rename it.  Ignored by rule: hidden files, editors' backups
  (``~``, ``#…#``, ``.swp``, ``.bak``, ``.orig``, ``.rej``, ``.tmp``), and names that are
  neither YAML nor start with a digit (a README, an images/ folder).
- issues/ and the files in it may be symlinks only to places inside the newsletter
  folder; a symlink loop, a dangling link or an unreadable folder is an error.
- Issue files larger than MAX_FILE_BYTES are refused here, before anything reads them.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from digest.core import paths
from digest.core.errors import Problem
from digest.core.loading import MAX_FILE_BYTES, TOO_LARGE, cut

ISSUES_DIR = "issues"
_NAME = re.compile(r"([0-9]{1,9})\.yaml")
# Editors' backup, swap, lock and temporary files (0004.yaml~, .0004.yaml.swp, #0004.yaml#,
# .#0004.yaml, 0004.yaml.bak, .orig, .rej, .tmp) and hidden files are not issues.
_BACKUP = re.compile(r"[.#].*|.*(?:~|#|\.sw[a-p]|\.bak|\.orig|\.rej|\.tmp)", re.DOTALL | re.IGNORECASE)


def discover(root: Path) -> tuple[list[tuple[int, Path, str]], list[Problem]]:
    """The issue files as (number, path, relative name), sorted by number, and naming problems."""
    folder = root / ISSUES_DIR
    real_root = root.resolve()
    try:
        st = paths.input_stat(folder, real_root, kind="folder")
    except paths.Refused as e:
        if e.missing:
            return [], [Problem(ISSUES_DIR, None, "folder not found: put one <number>.yaml file per issue in it")]
        return [], [Problem(ISSUES_DIR, None, str(e))]
    if not stat.S_ISDIR(st.st_mode):
        return [], [
            Problem(ISSUES_DIR, None, "is not a folder: put one <number>.yaml file per issue in a folder of that name")
        ]
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        return [], [
            Problem(
                ISSUES_DIR,
                None,
                f"cannot open the folder: {paths.reason(e)} (a folder needs read and execute permission)",
            )
        ]
    found: dict[int, list[tuple[Path, str]]] = {}
    problems: list[Problem] = []
    for name in names:
        if is_backup(name):
            continue
        path, rel = folder / name, f"{ISSUES_DIR}/{name}"
        number, why = issue_number(name)
        if number is None and why is None:  # not meant as an issue: a README, an images/ folder
            continue
        try:
            st = paths.input_stat(path, real_root)
        except paths.Refused as e:
            if e.parent_denied:
                return [], [
                    Problem(
                        ISSUES_DIR,
                        None,
                        f"cannot look at the files in the folder: {e.args[0].removeprefix('cannot be read: ')} (a"
                        " folder needs execute permission as well as read)",
                    )
                ]
            problems.append(Problem(rel, None, str(e)))
            continue
        if stat.S_ISDIR(st.st_mode):
            problems.append(
                Problem(rel, None, "is a folder: put issue files directly in issues/, named like 0263.yaml")
            )
            continue
        if why is not None:
            problems.append(Problem(rel, None, why))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Problem(rel, None, "is not a regular file"))
            continue
        if st.st_size > MAX_FILE_BYTES:
            problems.append(Problem(rel, None, TOO_LARGE))
            continue
        assert number is not None
        found.setdefault(number, []).append((path, rel))
    files = []
    for number, entries in sorted(found.items()):
        if len(entries) > 1:
            names_ = " and ".join(rel for _, rel in entries)
            problems.extend(
                Problem(rel, None, f"issue {number} has more than one file: {names_}") for _, rel in entries
            )
            continue
        files.append((number, entries[0][0], entries[0][1]))
    return files, problems


def is_backup(name: str) -> bool:
    """An editor's backup, swap, lock or temporary file, or a hidden one: ignored, by rule."""
    return bool(_BACKUP.fullmatch(name))


def issue_number(name: str) -> tuple[int | None, str | None]:
    """(number, None) for an issue file's name; (None, why not) for a name meant as one that is
    not right; (None, None) for a name not meant as an issue at all (README.md, images)."""
    if m := _NAME.fullmatch(name):
        return int(m.group(1)), None
    stripped = name.strip()
    if stripped != name:
        return None, f"the file name has a space at its start or end: rename it to {cut(stripped)!r}"
    stem, dot, ext = name.rpartition(".")
    if dot and re.fullmatch(r"\d+", stem) and ext.lower() in ("yaml", "yml"):
        digits = str(int(stem)).zfill(len(stem))  # int() reads any script's digits
        if len(stem) > 9:
            return None, "an issue number has at most 9 digits"
        if not stem.isascii():
            return None, f"issue files are numbered with the digits 0-9: rename it to {digits}.yaml"
        return None, f"issue files end in .yaml, in lower case: rename it to {digits}.yaml"
    if name[:1].isdigit() or re.search(r"\.ya?ml", name, re.IGNORECASE):
        return None, "issue files are named by their number, like 0263.yaml"
    return None, None
