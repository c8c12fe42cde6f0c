"""Golden files: the exact bytes of one issue's email, text and web page, the archive and
the three feeds, built from tests/fixtures/golden/ (issue 7 uses every field; issue 9 the
richer format: a table, titled and untitled sub-sections, section intros, code-span titles).

After an intended change to the output, rewrite them and review the diff:

    python -m pytest tests/test_golden.py --regen-golden
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from conftest import run, tree

GOLDEN = Path(__file__).resolve().parent / "golden"

# Paths under site/, stored under tests/golden/ at the same paths.
FILES = [
    "issues/7/email.html",
    "issues/7/email.txt",
    "issues/7/index.html",
    "issues/9/email.html",
    "issues/9/email.txt",
    "issues/9/index.html",
    "index.html",
    "feed.xml",
    "atom.xml",
    "feed.json",
    "pagefind/0/pagefind-entry.json",  # the search bundle of issues 0-99: its languages and page counts
]

# Everything the golden newsletter builds: three published issues (8, a draft, never reaches the site).
SITE = {f"issues/{n}/{name}" for n in (6, 7, 9) for name in ("email.html", "email.txt", "index.html")} | {
    "index.html",
    "feed.xml",
    "atom.xml",
    "feed.json",
    ".digest-site",  # marks the folder as a site digest built (what --out may replace)
    # issue 9's local image (tests/fixtures/golden/images/calendar.jpg), named by its bytes: resized and
    # stripped, its bytes are Pillow's (not stored here: they may differ between Pillow versions)
    "images/a26b40081ac4c5f1.jpg",
}


def _diff(expected: bytes, actual: bytes, name: str, limit: int = 60) -> str:
    """A readable unified diff (MJML's email is one long line: split it at tags first)."""

    def lines(data: bytes) -> list[str]:
        return data.decode("utf-8", "replace").replace("><", ">\n<").splitlines(keepends=True)

    diff = list(difflib.unified_diff(lines(expected), lines(actual), f"tests/golden/{name}", f"site/{name}"))
    return "".join(diff[:limit]) + (f"... ({len(diff) - limit} more diff lines)\n" if len(diff) > limit else "")


def test_golden_outputs_are_byte_for_byte_as_stored(golden_root: Path, regen: bool) -> None:
    result = run("build", "--root", str(golden_root))
    assert result.exit_code == 0, result.output
    site = tree(golden_root / "site")
    assert {name for name in site if not name.startswith("pagefind/")} == SITE
    # One search bundle (issues 0-99): Pagefind's interface and a fragment per published issue, one language.
    search = {name for name in site if name.startswith("pagefind/")}
    assert {"pagefind/0/pagefind-ui.js", "pagefind/0/pagefind-ui.css", "pagefind/0/pagefind.js"} <= search
    assert len([name for name in search if name.startswith("pagefind/0/fragment/en_")]) == 3

    if regen:
        changed = []
        for name in FILES:
            path = GOLDEN / name
            if not path.exists() or path.read_bytes() != site[name]:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(site[name])
                changed.append(name)
        pytest.skip(f"--regen-golden: rewrote {', '.join(changed) or 'nothing (all up to date)'}; review the diff")

    problems = []
    for name in FILES:
        path = GOLDEN / name
        if not path.exists():
            problems.append(f"tests/golden/{name} is missing: run pytest tests/test_golden.py --regen-golden\n")
        elif path.read_bytes() != site[name]:
            problems.append(_diff(path.read_bytes(), site[name], name))
    assert not problems, "output differs from tests/golden/:\n" + "\n".join(problems)


def test_golden_files_are_all_tracked_and_nothing_else() -> None:
    """A golden file that no longer has a test (or a missing one) is noticed."""
    stored = {str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*") if p.is_file()}
    assert stored == set(FILES)


def test_golden_build_is_independent_of_the_output_folder(golden_root: Path, tmp_path: Path) -> None:
    """--out elsewhere gives the same bytes: nothing in the output depends on where it is written."""
    assert run("build", "--root", str(golden_root)).exit_code == 0
    other = tmp_path / "elsewhere" / "out"
    result = run("build", "--root", str(golden_root), "--out", str(other))
    assert result.exit_code == 0, result.output
    assert tree(other) == tree(golden_root / "site")
