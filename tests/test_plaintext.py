"""The plain-text email: wrapped at 78 columns, URLs and code whole; images as alt text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL_CONFIG, columns, run

from digest.core.plaintext import to_text

LONG_URL = "https://example.com/" + "a-very-long-path-segment/" * 5


def test_paragraphs_are_wrapped_at_78_columns_and_urls_stay_whole() -> None:
    src = "word " * 40 + f"[a link]({LONG_URL}) and more words " * 3
    text = to_text(src, 78)
    assert all(len(line) <= 78 or LONG_URL in line for line in text.splitlines())
    assert text.count(LONG_URL) == 3  # never cut
    assert " ".join(text.split()) == " ".join(to_text(src).split())  # the same words, re-flowed


def test_source_line_breaks_are_reflowed_and_lists_keep_their_indent() -> None:
    src = "One short line\nand another.\n\n- " + "item text " * 12 + "\n- second"
    assert (
        to_text(src, 40) == "One short line and another.\n"
        "\n"
        "- item text item text item text item\n"
        "  text item text item text item text\n"
        "  item text item text item text item\n"
        "  text item text\n"
        "- second"
    )


def test_quotes_keep_their_prefix_and_nested_lists_their_indent() -> None:
    src = "> " + "quoted words " * 10 + "\n\n1. " + "first " * 9 + "\n   - " + "nested " * 8
    assert (
        to_text(src, 40) == "> quoted words quoted words quoted words\n"
        "> quoted words quoted words quoted words\n"
        "> quoted words quoted words quoted words\n"
        "> quoted words\n"
        "\n"
        "1. first first first first first first\n"
        "   first first first\n"
        "   - nested nested nested nested nested\n"
        "     nested nested nested"
    )


def test_hard_breaks_stay_and_nothing_but_spaces_at_a_break_changes() -> None:
    src = "A line that ends in a hard break\\\nthen\tthe  next, with a tab and two spaces."
    assert to_text(src, 78) == "A line that ends in a hard break\nthen\tthe  next, with a tab and two spaces."
    assert (
        to_text("word " * 3 + "\ue000private-use\u00a0no-break", 20)
        == "word word word\n\ue000private-use\u00a0no-break"
    )


def test_right_to_left_and_wide_text_wrap_by_the_columns_they_take() -> None:
    arabic = "ملخص باللغة العربية مع كلمة English في الوسط، " * 4
    lines = to_text(arabic, 78).splitlines()
    assert len(lines) == 3 and all(columns(line) <= 78 for line in lines)
    assert " ".join(lines) == arabic.strip()
    marked = "\u2067" + " ".join(["كلمة"] * 30) + "\u2069"  # bidi isolates take no column
    assert [columns(line) for line in to_text(marked, 78).splitlines()] == [74, 74]
    wide = "日本語の文 " * 20  # two columns a character: 11 columns a word with its space
    assert [columns(line) for line in to_text(wide, 78).splitlines()] == [76, 76, 65]


def test_code_is_never_broken() -> None:
    code = "let x = vec![1, 2, 3].into_iter().map(|n| n * 2).collect::<Vec<_>>(); // stays on one line, as written"
    assert code in to_text(f"```\n{code}\n```", 78).splitlines()
    inline = to_text("Use " + "words " * 10 + "`cargo build --release --all-features` to build.", 40)
    assert any("cargo build --release --all-features" in line for line in inline.splitlines())


def test_images_appear_as_their_alt_text() -> None:
    assert (
        to_text("See ![A calendar page for 29 February](https://example.com/leap.png).", 78)
        == "See [A calendar page for 29 February]."
    )


def test_every_field_of_the_text_email_is_wrapped(newsletter: Callable[..., Path]) -> None:
    long = "A title that is long enough to need more than one line in a plain-text email client window"
    root = newsletter(
        issues={
            "0001.yaml": (
                f"""\
        date: 2024-01-05
        title: {long}
        intro: "{"Intro words, " * 20}"
        sections:
          - title: {long}
            items:
              - title: {long}
                url: {LONG_URL}
                source: {"A source with a long name " * 3}
                summary: "{"Summary words, " * 25}"
        """
            )
        }
    )
    assert run("build", "--root", str(root)).exit_code == 0
    text = (root / "site/issues/1/email.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert [line for line in lines if len(line) > 78] == [LONG_URL]
    assert lines[0] == "A title that is long enough to need more than one line in a plain-text email"
    assert lines[1] == "client window"
    assert lines[2] == "=" * len(lines[0])  # the underline spans the longest line of the wrapped heading


@pytest.mark.parametrize("utm", ["", "utm:\n  source: weekly\n"])
def test_an_item_titled_by_its_url_prints_the_url_once(newsletter: Callable[..., Path], utm: str) -> None:
    # Issue 19: the title line and the URL line were the same address.
    issue = """\
    date: 2024-01-05
    sections:
      - title: Links
        items:
          - title: https://perf.example.org/triage/2024-06-04
            url: https://perf.example.org/triage/2024-06-04
            summary: The full report.
          - title: A titled item
            url: https://example.com/titled
    """
    root = newsletter(config=MINIMAL_CONFIG + utm, issues={"0001.yaml": issue})
    assert run("build", "--root", str(root)).exit_code == 0
    text = (root / "site" / "issues" / "1" / "email.txt").read_text(encoding="utf-8")
    tagged = "?utm_source=weekly" if utm else ""
    assert text.count("https://perf.example.org/triage/2024-06-04") == 1
    assert (
        f"Links\n-----\n\nhttps://perf.example.org/triage/2024-06-04{tagged}\nThe full report.\n\nA titled"
        f" item\nhttps://example.com/titled{tagged}\n" in text
    )
