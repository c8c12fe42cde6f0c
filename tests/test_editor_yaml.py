"""The browser editor's YAML writer (digest.compose.yamlops, editor): each operation compared on the WHOLE file.

The fixture (tests/fixtures/editor/0005.yaml) has comments above, beside and inside entries,
blank lines between items, plain, 'single', "double", | and > scalars and a flow mapping.
Every test states the whole file it expects: the fixture with exactly the edited lines changed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import FIXTURES, REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.compose.edit import CONFLICT, version_of
from digest.compose.editor import edit_issue, edit_text, field_value, set_ops
from digest.compose.yamlops import (
    DeleteEntry,
    InsertEntry,
    MoveEntry,
    Op,
    SetField,
    apply_text,
)
from digest.compose.yamlspans import parse_path, path_text
from digest.core.config import load_config
from digest.core.errors import DigestError

SOURCE = FIXTURES / "editor" / "0005.yaml"
BEFORE = SOURCE.read_text(encoding="utf-8")

ITEM1 = """\
      # first: the law
      - title: "Open data law passes"
        url: https://example.org/open-data
        summary: >
          The parliament passed the open data law after
          three years of debate.
        source: Example Times   # their spelling
"""
ITEM2 = """\
      - title: Second story
        url: https://example.org/second
        image: {src: https://example.org/a.jpg, alt: A photo}
        summary: Short and plain.
"""
ITEM3 = """\
      - title: Third story
        url: https://example.org/third
"""
ELSEWHERE = """\
    - title: Elsewhere item
      url: https://example.org/elsewhere
"""


def replaced(old: str, new: str, text: str = BEFORE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def run(*ops: Op) -> str:
    text, _ = edit_text(BEFORE, "issues/0005.yaml", ops)
    return text


def test_the_fixture_is_what_the_tests_say() -> None:
    assert ITEM1 + "\n" + ITEM2 + "\n" + ITEM3 in BEFORE
    assert ELSEWHERE + "    # a trailing comment of the section\n" in BEFORE


def test_paths_count_from_one_as_messages_do() -> None:
    assert parse_path("sections[1].items[2].image.alt") == ("sections", 0, "items", 1, "image", "alt")
    assert path_text(("sections", 0, "sections", 2, "items", 0)) == "sections[1].sections[3].items[1]"
    with pytest.raises(ValueError):
        parse_path("sections[0]")


# --- fields -------------------------------------------------------------------------------


def test_single_quotes_stay() -> None:
    assert run(SetField(("title",), "Week 5's best")) == replaced("title: 'Week five'", "title: 'Week 5''s best'")


def test_double_quotes_stay() -> None:
    after = run(SetField(("sections", 0, "items", 0, "title"), 'The "open" law'))
    assert after == replaced('- title: "Open data law passes"', '- title: "The \\"open\\" law"')


def test_plain_stays_plain_and_a_trailing_comment_stays() -> None:
    after = run(SetField(("sections", 0, "items", 0, "source"), "The Example Times"))
    assert after == replaced("source: Example Times   # their spelling", "source: The Example Times   # their spelling")


@pytest.mark.parametrize(
    ("value", "written"),
    [("yes", '"yes"'), ("a: b", '"a: b"'), ("#5", '"#5"'), ("2026-01-01", '"2026-01-01"'), (" x", '" x"')],
)
def test_a_plain_value_that_would_read_as_something_else_is_quoted(value: str, written: str) -> None:
    after = run(SetField(("sections", 0, "items", 1, "summary"), value))
    assert after == replaced("summary: Short and plain.", f"summary: {written}")
    assert yaml.safe_load(after)["sections"][0]["items"][1]["summary"] == value


def test_a_folded_block_is_folded_again_at_its_width() -> None:
    value = "The parliament passed the open data law after four years of debate and a long night.\n"
    after = run(SetField(("sections", 0, "items", 0, "summary"), value))
    new = "          The parliament passed the open data law after\n          four years of debate and a long night.\n"
    old = "          The parliament passed the open data law after\n          three years of debate.\n"
    assert after == replaced(old, new)


def test_a_word_changed_in_a_folded_block_changes_its_line_only() -> None:
    value = "The parliament passed the open data law after three years of open debate.\n"
    after = run(SetField(("sections", 0, "items", 0, "summary"), value))
    assert after == replaced("          three years of debate.\n", "          three years of open debate.\n")
    value = "The senate passed the open data law after three years of debate.\n"
    after = run(SetField(("sections", 0, "items", 0, "summary"), value))
    assert after == replaced("The parliament passed", "The senate passed")


def test_a_literal_block_keeps_its_style_indent_and_the_blank_line_after_it() -> None:
    after = run(SetField(("intro",), "Welcome to *week 5*.\n\nOne paragraph more.\n"))
    assert after == replaced(
        "  Welcome to *week five*.\n\n  Two paragraphs of intro.\n\n",
        "  Welcome to *week 5*.\n\n  One paragraph more.\n\n",
    )


def test_several_lines_into_a_plain_key_make_a_literal_block() -> None:
    after = run(SetField(("sections", 0, "items", 1, "summary"), "Line one\nline two\n"))
    assert after == replaced("summary: Short and plain.\n", "summary: |\n          Line one\n          line two\n")


def test_a_value_in_a_flow_mapping_is_replaced_in_place() -> None:
    after = run(SetField(("sections", 0, "items", 1, "image", "alt"), "A photo, at night"))
    assert after == replaced("alt: A photo}", 'alt: "A photo, at night"}')


def test_clearing_a_key_removes_its_line_with_its_comment() -> None:
    assert run(SetField(("outro",), None)) == replaced("outro: Thanks for reading.   # signed\n", "")
    assert run(SetField(("sections", 0, "items", 1, "image"), None)) == replaced(
        "        image: {src: https://example.org/a.jpg, alt: A photo}\n", ""
    )


def test_clearing_the_first_key_of_an_item_keeps_the_dash() -> None:
    after = run(SetField(("sections", 0, "items", 0, "title"), None))
    assert after == replaced('      - title: "Open data law passes"\n        url:', "      - url:")


def test_a_new_key_goes_where_the_key_order_puts_it() -> None:
    after = run(SetField(("sections", 0, "items", 2, "summary"), "New."))
    assert after == replaced(ITEM3, ITEM3 + "        summary: New.\n")
    after = run(SetField(("sections", 0, "items", 0, "author"), "Ana"))
    assert after == replaced("their spelling\n", "their spelling\n        author: Ana\n")
    after = run(SetField(("subject",), "Five: the law"))
    assert after == replaced("title: 'Week five'\n", "title: 'Week five'\nsubject: \"Five: the law\"\n")


def test_a_new_image_is_one_flow_line() -> None:
    after = run(SetField(("sections", 0, "items", 2, "image"), {"src": "images/tirana.jpg", "alt": "Tirana: a square"}))
    assert after == replaced(ITEM3, ITEM3 + '        image: {src: images/tirana.jpg, alt: "Tirana: a square"}\n')


def test_booleans_and_dates() -> None:
    assert run(SetField(("draft",), False)) == replaced("draft: true", "draft: false")
    assert run(SetField(("date",), dt.date(2026, 4, 3))) == replaced("date: 2026-03-27 ", "date: 2026-04-03 ")


# --- entries ------------------------------------------------------------------------------


def test_deleting_the_first_item_takes_its_comment_and_the_blank_line_after_it() -> None:
    assert run(DeleteEntry(("sections", 0, "items", 0))) == replaced(ITEM1 + "\n", "")


def test_deleting_a_middle_item_leaves_one_blank_line() -> None:
    assert run(DeleteEntry(("sections", 0, "items", 1))) == replaced(ITEM2 + "\n", "")


def test_deleting_the_last_item_takes_the_blank_line_before_it() -> None:
    assert run(DeleteEntry(("sections", 0, "items", 2))) == replaced("\n" + ITEM3, "")


def test_moving_down_and_up_within_a_section() -> None:
    down = run(MoveEntry(("sections", 0, "items", 0), ("sections", 0, "items"), 1))
    assert down == replaced(ITEM1 + "\n" + ITEM2 + "\n", ITEM2 + "\n" + ITEM1 + "\n")
    up = run(MoveEntry(("sections", 0, "items", 2), ("sections", 0, "items"), 1))
    assert up == replaced(ITEM2 + "\n" + ITEM3, ITEM3 + "\n" + ITEM2)


def test_moving_to_another_section_reindents_the_lines_with_their_comments() -> None:
    after = run(MoveEntry(("sections", 0, "items", 0), ("sections", 1, "items"), 0))
    shifted = "".join(line[2:] + "\n" for line in ITEM1.splitlines())
    expected = replaced(ITEM1 + "\n", "")
    assert after == replaced(ELSEWHERE, shifted + ELSEWHERE, expected)
    back = edit_text(after, "x", [MoveEntry(("sections", 1, "items", 0), ("sections", 0, "items"), 0)])[0]
    assert back == BEFORE


def test_moving_to_the_end_of_another_section() -> None:
    after = run(MoveEntry(("sections", 1, "items", 0), ("sections", 0, "items"), None))
    shifted = "".join("  " + line + "\n" for line in ELSEWHERE.splitlines())
    expected = replaced(ELSEWHERE, "")
    assert after == replaced(ITEM3, ITEM3 + "\n" + shifted, expected)


def test_adding_an_item_to_a_spaced_list_keeps_the_spacing() -> None:
    after = run(InsertEntry(("sections", 0, "items"), {"title": "Added", "url": "https://x.example/"}))
    assert after == replaced(ITEM3, ITEM3 + "\n      - title: Added\n        url: https://x.example/\n")


def test_adding_renaming_and_deleting_sections() -> None:
    after = run(InsertEntry(("sections",), {"title": "New section", "items": None}))
    new = "  - title: New section\n    items:\n"
    assert after == replaced(
        "    # a trailing comment of the section\n", "    # a trailing comment of the section\n" + new
    )
    renamed = edit_text(after, "x", [SetField(("sections", 2, "title"), "Events")])[0]
    assert renamed == replaced("title: New section", "title: Events", after)
    gone = edit_text(renamed, "x", [DeleteEntry(("sections", 2))])[0]
    assert gone == BEFORE
    one = run(DeleteEntry(("sections", 0)))
    start = BEFORE.index("  # The lead stories")
    assert one == BEFORE[:start] + BEFORE[BEFORE.index("  - title: Elsewhere") :]


def test_items_into_a_section_with_none_yet() -> None:
    text = BEFORE.replace("    intro: Links from around the web.\n    items:\n" + ELSEWHERE, "    intro: Links.\n")
    after = edit_text(text, "x", [InsertEntry(("sections", 1, "items"), {"title": "First"})])[0]
    assert after == text.replace("    intro: Links.\n", "    intro: Links.\n    items:\n      - title: First\n")


def test_a_flow_list_is_refused() -> None:
    text = "date: 2026-03-27\nsections:\n  - title: A\n    items: [{title: x}, {title: y}]\n"
    with pytest.raises(DigestError, match=r"sections\[1\]\.items: is written in flow style"):
        edit_text(text, "x", [DeleteEntry(("sections", 0, "items", 0))])


def test_a_path_that_is_gone_is_a_clear_error() -> None:
    with pytest.raises(DigestError, match=r"sections\[9\]: is no longer in the file: reload the page"):
        apply_text(BEFORE, "x", DeleteEntry(("sections", 8)))


# --- values from the page ---------------------------------------------------------------------

tricky = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(value=tricky, target=st.sampled_from(["title", "intro", "outro", "s.title", "i.summary", "i.alt", "i.source"]))
def test_any_text_is_written_so_that_it_reads_back(value: str, target: str) -> None:
    path = {
        "s.title": ("sections", 0, "title"),
        "i.summary": ("sections", 0, "items", 0, "summary"),
        "i.alt": ("sections", 0, "items", 1, "image", "alt"),
        "i.source": ("sections", 0, "items", 0, "source"),
    }.get(target, (target,))
    after = run(SetField(path, value))  # edit_text compares the whole document with the intended one
    doc = yaml.safe_load(after)
    for p in path:
        doc = doc[p]
    assert doc == value


def test_a_textarea_without_the_final_line_break_keeps_the_block_as_it_was() -> None:
    doc = yaml.safe_load(BEFORE)
    assert field_value(doc, ("intro",), "Two\n\nparagraphs") == "Two\n\nparagraphs\n"
    assert field_value(doc, ("date",), "2026-04-03") == dt.date(2026, 4, 3)
    assert field_value(doc, ("date",), "2026-02-30") == "2026-02-30"
    assert field_value(doc, ("title",), "") is None
    ops = set_ops(doc, [(parse_path("sections[1].items[2].image.alt"), "New alt")])
    assert ops == [
        SetField(("sections", 0, "items", 1, "image"), {"src": "https://example.org/a.jpg", "alt": "New alt"})
    ]
    # An item without an image gets only the key given (an upload before its alt text), written as it is.
    ops = set_ops(doc, [(parse_path("sections[1].items[1].image.src"), "images/x.png")])
    assert ops == [SetField(("sections", 0, "items", 0, "image"), {"src": "images/x.png"})]
    edited, _ = edit_text(BEFORE, "issues/0005.yaml", ops)
    assert [line for line in edited.splitlines() if "images/x.png" in line] == ["        image: {src: images/x.png}"]


# --- saving -------------------------------------------------------------------------------


@pytest.fixture
def issue(newsletter) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    root = newsletter(issues={})
    path = root / "issues" / "0005.yaml"
    shutil.copy(SOURCE, path)
    return root, path


def test_a_save_is_validated_first_and_errors_name_the_field(issue: tuple[Path, Path]) -> None:
    root, path = issue
    config = load_config(root)
    data = path.read_bytes()
    with pytest.raises(DigestError) as e:
        edit_issue(
            config,
            5,
            path,
            "issues/0005.yaml",
            [SetField(("sections", 0, "items", 0, "url"), "javascript:x")],
            version=version_of(data),
        )
    assert [p.key for p in e.value.problems] == ["sections[1].items[1].url"]
    assert str(e.value.problems[0]).startswith("issues/0005.yaml:16: sections[1].items[1].url: ")
    assert path.read_bytes() == data


def test_a_file_changed_on_disk_is_never_overwritten(issue: tuple[Path, Path]) -> None:
    root, path = issue
    config = load_config(root)
    read = path.read_bytes()
    theirs = read.replace(b"Second story", b"Second story, edited elsewhere")
    path.write_bytes(theirs)
    with pytest.raises(DigestError) as e:
        edit_issue(config, 5, path, "issues/0005.yaml", [SetField(("title",), "Mine")], version=version_of(read))
    assert [p.message for p in e.value.problems] == [CONFLICT]
    assert path.read_bytes() == theirs


def test_a_save_writes_exactly_the_edit_and_keeps_windows_line_ends(issue: tuple[Path, Path]) -> None:
    root, path = issue
    config = load_config(root)
    path.write_bytes(BEFORE.replace("\n", "\r\n").encode())
    read = path.read_bytes()
    edit_issue(config, 5, path, "issues/0005.yaml", [SetField(("title",), "Week 5")], version=version_of(read))
    assert path.read_bytes() == replaced("title: 'Week five'", "title: 'Week 5'").replace("\n", "\r\n").encode()


SUBS = """\
date: 2026-03-27
draft: true
sections:
  - title: Community
    sections:
      - title: Official
        items:
          - title: Blog post   # the official one
            url: https://blog.example/1
      - title: Newsletters
        intro: Other letters.
  - title: Jobs
    items:
      - title: A job
"""


def test_sub_sections_take_items_and_new_sub_sections() -> None:
    moved = edit_text(SUBS, "x", [MoveEntry(("sections", 1, "items", 0), ("sections", 0, "sections", 1, "items"))])[0]
    assert moved == SUBS.replace(
        "        intro: Other letters.\n", "        intro: Other letters.\n        items:\n          - title: A job\n"
    ).replace("    items:\n      - title: A job\n", "    items:\n")
    back = edit_text(moved, "x", [MoveEntry(("sections", 0, "sections", 1, "items", 0), ("sections", 1, "items"))])[0]
    assert back == SUBS.replace("        intro: Other letters.\n", "        intro: Other letters.\n        items:\n")
    added = edit_text(SUBS, "x", [InsertEntry(("sections", 1, "sections"), {"title": "Remote", "items": None})])[0]
    assert added == SUBS + "    sections:\n      - title: Remote\n        items:\n"
    deeper = edit_text(SUBS, "x", [MoveEntry(("sections", 0, "sections", 0, "items", 0), ("sections", 1, "items"), 0)])[
        0
    ]
    assert deeper == SUBS.replace(
        "        items:\n          - title: Blog post   # the official one\n            url: https://blog.example/1\n",
        "        items:\n",
    ).replace(
        "    items:\n      - title: A job\n",
        "    items:\n      - title: Blog post   # the official one\n"
        "        url: https://blog.example/1\n      - title: A job\n",
    )


BOMB = "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9 if p.strip() else ['x'] * 9)}]\n"
    for p, k in zip(" abcde", "abcdef", strict=True)
)


@pytest.mark.slow  # hostile input: the bounded loader counts to its limit
def test_an_alias_bomb_is_refused_by_the_bounded_loader_before_anything_else(issue: tuple[Path, Path]) -> None:
    from digest.preview.editing import _document

    root, path = issue
    data = (BOMB + BEFORE).encode()  # 9**6 strings once expanded: more than the loader takes
    path.write_bytes(data)
    assert _document(data, "issues/0005.yaml") == {}
    with pytest.raises(DigestError) as e:
        edit_issue(
            load_config(root), 5, path, "issues/0005.yaml", [SetField(("title",), "x")], version=version_of(data)
        )
    assert len(e.value.problems) == 1 and e.value.problems[0].line is not None
    assert path.read_bytes() == data


# --- every field of every issue in the repository -------------------------------------------------

REPO_ISSUES = sorted(
    p
    for folder in (REPO / "issues", *sorted((REPO / "examples").glob("*/issues")), FIXTURES / "golden" / "issues")
    for p in folder.glob("*.yaml")
)


def _leaves(doc: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _leaves(v, (*path, i))
    elif isinstance(doc, str) and isinstance(path[-1], str):
        yield path, doc


@pytest.mark.slow  # every field of 17 issues, each edit checked on the whole document
@pytest.mark.parametrize("source", REPO_ISSUES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_field_of_every_issue_edits_as_one_hunk(source: Path) -> None:
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for path, value in _leaves(yaml.safe_load(text)):
        assert edit_text(text, "x", [SetField(path, value)])[0] == text, path  # the same value: not a byte changes
        new = value.rstrip("\n") + " (edited)" + ("\n" if value.endswith("\n") else "")
        edited = edit_text(text, "x", [SetField(path, new)])[0]  # checks the whole document itself
        hunks = [
            op
            for op in difflib.SequenceMatcher(None, lines, edited.splitlines(keepends=True)).get_opcodes()
            if op[0] != "equal"
        ]
        assert len(hunks) == 1, (path, hunks)
