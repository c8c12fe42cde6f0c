"""The email as classic Outlook for Windows reads it (Word's engine, which cannot run here).

Outlook reads what `<!--[if mso]>` comments hold and skips what `<!--[if !mso]><!-->`
ones wrap; by inspection (Microsoft's documentation of Word's HTML and CSS), it draws
borders and padding only on table cells and never wraps a <pre>.  So the email as Outlook
sees it must draw each section's rule and the outro's with a table cell, and carry code
blocks as table cells of text, not <pre>.  Known limitations that remain are listed in
the README ("Classic Outlook").
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from conftest import FIXTURES, GOLDEN_SRC, run

_MSO_ONLY = re.compile(r"<!--\[if mso\]>(.*?)<!\[endif\]-->", re.DOTALL)
_NOT_MSO = re.compile(r"<!--\[if !mso\]><!-->.*?<!--<!\[endif\]-->", re.DOTALL)


def as_outlook_reads(html: str) -> str:
    """``html`` with Outlook's conditional comments applied (mso: yes)."""
    return _MSO_ONLY.sub(lambda m: m.group(1), _NOT_MSO.sub("", html))


def _rule_before(el: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """The table cell right before ``el`` that draws the rule (td class="rule", whose
    border <head> gives Outlook), or None."""
    before = el.getprevious()
    if before is None or before.tag != "table":
        return None
    cells = before.xpath(".//td[@class='rule'][@height]")
    return cells[0] if len(cells) == 1 else None


@pytest.mark.parametrize("source", [FIXTURES / "tables", GOLDEN_SRC], ids=["tables", "golden"])
def test_outlook_gets_rules_and_code_in_table_cells(tmp_path: Path, source: Path) -> None:
    root = tmp_path / "news"
    root.mkdir()
    shutil.copy2(source / "config.yaml", root)
    shutil.copytree(source / "issues", root / "issues")
    if (source / "images").is_dir():  # local images (the golden fixture has one)
        shutil.copytree(source / "images", root / "images")
    assert run("build", "--root", str(root)).exit_code == 0
    emails = sorted((root / "site" / "issues").glob("*/email.html"))
    titles = outros = blocks = 0
    for path in emails:
        sent = path.read_text(encoding="utf-8")
        doc = lxml.html.fromstring(as_outlook_reads(sent))
        for h in doc.xpath("//*[contains(concat(' ', @class, ' '), ' section-title ')]"):
            titles += 1
            assert _rule_before(h) is not None, f"{path}: section title {h.text_content()!r} has no rule Outlook draws"
        for outro in doc.xpath("//div[contains(concat(' ', @class, ' '), ' outro ')]"):
            outros += 1
            assert _rule_before(outro) is not None, f"{path}: the outro has no rule Outlook draws"
        assert doc.xpath("//pre") == [], f"{path}: Outlook gets a <pre>, which it never wraps"
        # Every code block reaches Outlook as text in a cell, line by line.
        for pre in lxml.html.fromstring(sent).xpath("//pre"):
            blocks += 1
            for line in pre.text_content().strip("\n").split("\n"):
                cells = [td for td in doc.xpath("//td") if line.strip() in td.text_content().replace("\xa0", " ")]
                assert cells, f"{path}: code line {line!r} is not in Outlook's email"
        # The other clients read the design as before: Outlook's additions are comments to them.
        assert "<pre" not in as_outlook_reads(sent)
    assert titles and (outros or source == GOLDEN_SRC) and (blocks or source == GOLDEN_SRC)


def test_outlook_zeroes_the_headings_own_rule_in_head(golden_root: Path) -> None:
    """For Outlook alone the heading's and the outro's own padding and border go and their
    margin is the gap below the rule, which the cell before them draws (its height the gap
    above the rule)."""
    assert run("build", "--root", str(golden_root)).exit_code == 0
    sent = (golden_root / "site" / "issues" / "7" / "email.html").read_text(encoding="utf-8")
    head = sent[: sent.index("</head>")]
    assert (
        "<!--[if mso]><style>.section-title,.outro"
        "{margin-top:20px!important;padding-top:0!important;border-top:0!important}"
        ".rule{border-bottom:1px solid #e4e4e7}</style><![endif]-->" in head
    )
    rule = (
        '<!--[if mso]><table role="presentation" width="100%"><tr><td class="rule" height="40">&nbsp;</td></tr></table>'
        "<![endif]-->"
    )
    assert sent.count(rule + '<h2 class="section-title"') == 1


def test_a_code_block_that_fits_the_column_is_not_carried_twice(newsletter: Any) -> None:
    short = "```\nfn main() {}\n```\n"
    long = "```\n" + "let x = " + "1 + " * 30 + "1;\n```\n"
    root = newsletter(
        issues={
            "0001.yaml": (
                "date: 2024-01-05\npreheader: Code.\nsections:\n  - items:\n      - summary: |\n"
                + "".join("          " + line + "\n" for line in (short + "\n" + long).splitlines())
            )
        }
    )
    assert run("build", "--root", str(root)).exit_code == 0
    sent = (root / "site" / "issues" / "1" / "email.html").read_text(encoding="utf-8")
    assert sent.count("<pre") == 2
    assert sent.count("fn main() {}") == 1  # 12 characters: Outlook shows the <pre>
    assert sent.count("let x = 1 + 1 + ") == 2  # 128 characters: a cell Outlook can wrap, and the <pre>
    assert "<!--[if !mso]><!--><pre" in sent
