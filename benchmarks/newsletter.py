"""The benchmark's newsletters: a synthetic one of N issues, and a buildable copy of a real one.

The synthetic issues have 20 items in 3 sections, with markdown summaries of varied text
(no two alike, as in a real archive), so that no cache of repeated text flatters a build.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import subprocess
from pathlib import Path

WORDS = (
    "open data civic budget transparency council archive rights privacy audit survey assembly library "
    "climate housing transit water election census map radio report court ruling policy ministry grant "
    "school health clinic vaccine research study network protocol release kernel compiler security patch "
    "community volunteer meeting festival museum market price energy solar wind grid river forest farm "
    "journal interview podcast video release notes tutorial guide benchmark crate library async trait "
    "memory safety borrow checker macro module testing fuzzing deployment server browser mobile design "
    "language translation editor reader subscriber newsletter campaign petition lawsuit hearing budget"
).split()

CONFIG = """\
title: Bench Weekly
url: https://bench.example.org/
language: en
timezone: Europe/Berlin
author: {name: Bench Editor, email: editor@bench.example.org}
email: {from: "Bench <news@bench.example.org>", unsubscribe_url: "{{ UnsubscribeURL }}"}
"""

START = dt.date(2010, 1, 1)


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _summary(rng: random.Random, number: int, item: int) -> list[str]:
    """A summary of varied length and markup."""
    link = f"https://example.net/{number}/{item}/{rng.randint(1, 10**6)}"
    parts = [
        f"{_words(rng, rng.randint(8, 24)).capitalize()}, with **{_words(rng, 2)}** and a",
        f"[{_words(rng, rng.randint(2, 5))}]({link}) to `{rng.choice(WORDS)}`.",
    ]
    for _ in range(rng.randint(0, 3)):
        parts.append(f"{_words(rng, rng.randint(6, 30)).capitalize()}{rng.choice(['.', '!', '?', ' —', ';'])}")
    if rng.random() < 0.3:
        parts.append(f"*{_words(rng, rng.randint(2, 6))}* ({rng.randint(1, 999)} {rng.choice(WORDS)}s).")
    return parts


def issue_yaml(number: int, date: dt.date) -> str:
    """Issue ``number``'s file: the same bytes for the same number on every run."""
    rng = random.Random(number)
    lines = [f"number: {number}", f"date: {date.isoformat()}", f'title: "Issue {number}: {_words(rng, 4)}"']
    intro = f"This week: *{_words(rng, 6)}* and [the {_words(rng, 2)} roundup](https://example.org/{number}/intro)."
    lines += ["intro: |", f"  {intro}", "sections:"]
    item = 0
    for s in range(3):
        lines += [f"  - title: Section {s + 1} {_words(rng, 2)}", "    items:"]
        for _ in range(7 if s < 2 else 6):
            item += 1
            lines += [
                f"      - title: {_words(rng, rng.randint(3, 10)).capitalize()} ({number}.{item})",
                f"        url: https://news.example.com/{number}/{item}",
                f"        source: Source {rng.randint(1, 40)}",
                f"        author: Author {rng.randint(1, 90)}",
                "        summary: |",
                *(f"          {line}" for line in _summary(rng, number, item)),
            ]
    lines += ["outro: |", "  Thanks for reading. Reply to this email with tips."]
    return "\n".join(lines) + "\n"


def make_newsletter(root: Path, n: int) -> None:
    """A synthetic newsletter of ``n`` weekly issues in ``root``."""
    (root / "issues").mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    for number in range(1, n + 1):
        add_issue(root, number)


def add_issue(root: Path, number: int, start: dt.date = START) -> None:
    """Write synthetic issue ``number`` (one week after ``number - 1``) into ``root``."""
    date = start + dt.timedelta(days=7 * (number - 1))
    (root / "issues" / f"{number:04d}.yaml").write_text(issue_yaml(number, date), encoding="utf-8")


def edit_newest(root: Path, run: int) -> None:
    """Edit the newest issue, as an editor fixing this week's does (it is in the feeds too)."""
    newest = sorted((root / "issues").glob("*.yaml"))[-1]
    newest.write_text(newest.read_text(encoding="utf-8") + f"# edited ({run})\n", encoding="utf-8")


def corpus_copy(corpus: Path, root: Path) -> list[str]:
    """Copy a real newsletter folder to ``root`` so that it builds: its content fixes applied
    (if it has a ``content-fixes.patch``), and the issues that still have errors left out
    (returned).  The corpus itself is only read."""
    from digest.core.config import load_config
    from digest.pipeline.stages import context, read_sources, validate_issue

    shutil.copytree(corpus, root, ignore=shutil.ignore_patterns("site", ".digest-cache", ".site.digest-*"))
    if (root / "content-fixes.patch").is_file() and shutil.which("patch"):
        subprocess.run(["patch", "-s", "-p1", "-i", "content-fixes.patch"], cwd=root, check=True, capture_output=True)
    ctx = context(load_config(root))
    dropped = []
    for src in read_sources(ctx.config):
        if not validate_issue(ctx, src).ok:
            src.path.unlink()
            dropped.append(src.rel)
    return dropped
