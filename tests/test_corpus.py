"""The This Week in Rust corpus (664 real issues, ../shared/corpora/this-week-in-rust/)
through `digest check`: the only errors are the content errors its README lists
(content-errors.txt), and allowing irc: and ftp: links removes exactly those.

Slow (every issue is read and validated, twice); skipped where the corpus is absent.
The corpus is read from a private copy: it is test data, never part of the project.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO, run

# ../shared beside the repository (a worktree under wt/ has it one level further up).
CANDIDATES = [REPO.parent / "shared", REPO.parent.parent / "shared"]
CORPUS = next(
    (p / "corpora" / "this-week-in-rust" for p in CANDIDATES if (p / "corpora" / "this-week-in-rust").is_dir()), None
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CORPUS is None, reason="the This Week in Rust corpus (../shared/corpora/this-week-in-rust/) is absent"
    ),
]

_SUMMARY = re.compile(r"\d+ errors?(, \d+ warnings?)?")  # check's summary: it writes nothing, so the count alone


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert CORPUS is not None
    root = tmp_path_factory.mktemp("twir")
    shutil.copy2(CORPUS / "config.yaml", root / "config.yaml")
    shutil.copytree(CORPUS / "issues", root / "issues")
    return root


def _errors(output: str) -> list[str]:
    lines = [line for line in output.splitlines() if line and not _SUMMARY.fullmatch(line)]
    return [line for line in lines if ": warning: " not in line]


def _expected() -> list[str]:
    assert CORPUS is not None
    return (CORPUS / "content-errors.txt").read_text(encoding="utf-8").splitlines()


def test_the_corpus_has_only_its_content_errors(corpus: Path) -> None:
    result = run("check", "--root", str(corpus))
    assert result.exit_code == 1
    assert sorted(_errors(result.output)) == sorted(_expected())
    assert result.output.splitlines()[-1].startswith(f"{len(_expected())} errors")


def test_allowing_irc_and_ftp_removes_exactly_their_errors(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "twir"
    shutil.copytree(corpus, root, symlinks=True)
    config = (root / "config.yaml").read_text(encoding="utf-8") + "links: {schemes: [irc, ftp]}\n"
    (root / "config.yaml").write_text(config, encoding="utf-8")
    result = run("check", "--root", str(root))

    def where(line: str) -> str:  # "issues/0065.yaml:84: sections[3].items[4].summary"
        return line.split(": ", 2)[0] + ": " + line.split(": ", 2)[1]

    kept = [line for line in _expected() if not re.search(r"got '(irc|ftp)://", line)]
    assert len(kept) < len(_expected())  # the corpus does have irc: and ftp: links
    assert sorted(map(where, _errors(result.output))) == sorted(map(where, kept))
