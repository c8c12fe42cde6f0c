"""What a build and a check print, and what the published site holds (issue 19, items 7 and 8).

- Drafts never reach the published site: `build` leaves them out of site/ (the preview,
  which renders into memory, still shows them).
- Warnings do not flood: those of the issues being prepared (the newest and the drafts) and
  of config.yaml print in full, the rest as one count per kind; the summary line counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import MINIMAL_CONFIG, run

from digest.core.errors import Problem, fold_warnings
from digest.preview.site import PreviewSite

VAGUE = """\
date: 2024-01-0{n}
sections:
  - title: News
    items:
      - title: First item
        url: https://example.com/{n}
        summary: Read [here](https://example.com/x{n}).
"""
HERE = "link text 'here' does not say where it goes; describe the destination (screen readers list links by their text)"


def test_drafts_never_reach_the_published_site(example: Path) -> None:
    result = run("build", "--root", str(example))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (example / "site" / "issues").iterdir()) == ["41", "42", "43"]  # 44 is a draft
    preview = PreviewSite(example)
    preview.reload()
    assert preview.file("issues/44/email.html") is not None  # the preview still shows it


def test_warnings_of_earlier_issues_are_counted_by_kind(newsletter: Callable[..., Path]) -> None:
    root = newsletter(MINIMAL_CONFIG, {f"000{n}.yaml": VAGUE.format(n=n) for n in (1, 2, 3, 4)})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:3] == [
        f"issues/0004.yaml:7: warning: sections[1].items[1].summary: {HERE}",
        "and 3 warnings in earlier issues (--verbose prints them):",
        f"  3 × sections.items.summary: {HERE}",
    ]
    assert lines[3].startswith("built 4 issues (4 changed) in ") and lines[3].endswith(" s, 4 warnings")
    again = run("build", "--root", str(root)).output.splitlines()  # a no-op build says the same
    assert again[:3] == lines[:3] and again[3].endswith(" s, 4 warnings")
    verbose = run("build", "--root", str(root), "--verbose").output.splitlines()
    assert verbose[:4] == [f"issues/000{n}.yaml:7: warning: sections[1].items[1].summary: {HERE}" for n in (1, 2, 3, 4)]
    check = run("check", "--root", str(root)).output.splitlines()
    assert check[:3] == lines[:3] and check[3] == "checked 4 issues: no errors, 4 warnings"


def test_folding_keeps_errors_and_chosen_warnings_whole() -> None:
    problems = [
        Problem("issues/0001.yaml", 3, "is 120 characters; inboxes cut", "subject", warning=True),
        Problem("issues/0002.yaml", 4, "is 99 characters; inboxes cut", "subject", warning=True),
        Problem("issues/0002.yaml", 5, "is not a valid date", "date"),
        Problem("config.yaml", 1, 'word "x" is missing', "words", warning=True),
    ]
    shown, kinds = fold_warnings(problems, lambda p: not p.path.startswith("issues/"))
    assert shown == [problems[2], problems[3]]
    assert kinds == ["2 × subject: is … characters; inboxes cut"]


def test_dates_out_of_order_or_repeated_warn_at_the_later_files_date_line(newsletter: Callable[..., Path]) -> None:
    issue = (
        "title: Issue {n}\ndate: {date}\nsections:\n  - title: News\n    items:\n      - title: An item\n        url:"
        " https://example.com/{n}\n"
    )
    dates = {1: "2024-01-05", 2: "2024-01-12", 3: "2024-01-10", 4: "2024-01-10"}
    root = newsletter(MINIMAL_CONFIG, {f"000{n}.yaml": issue.format(n=n, date=d) for n, d in dates.items()})
    result = run("build", "--root", str(root), "--verbose")
    assert result.exit_code == 0, result.output
    order = "the archive and the feeds put issues in the order of their numbers; is the date or the number wrong?"
    assert result.output.splitlines()[:2] == [
        f"issues/0003.yaml:2: warning: date: 2024-01-10 is before issue 2's date (2024-01-12): {order}",
        f"issues/0004.yaml:2: warning: date: 2024-01-10 is issue 3's date too: {order}",
    ]
