"""digest.compose.edit: items go in as text; what was there stays byte for byte (property tests)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.compose.edit import Batch, append_items, expected_after, save_issue
from digest.core.config import load_config
from digest.core.errors import DigestError

ISSUES = [
    # block lists under their key, the common layout
    "date: 2026-03-27\ndraft: true\nsections:\n  - title: A\n    items:\n      - title: x\n        url: https://a.example/\n",
    # indentless lists, a comment after the last item, a key after sections
    "date: 2026-03-27\nsections:\n- title: A\n  items:\n  - title: x  # note\n  # trailing\nouttro_comment: null\n".replace("outtro_comment: null", "outro: Bye"),
    # a block scalar last, with blank lines after it, then another section
    "date: 2026-03-27\nsections:\n  - title: A\n    items:\n      - summary: |\n          one\n\n          two\n\n\n  - title: B\n    items:\n      - title: y\n",
    # bare keys: no sections yet / an empty items list
    "date: 2026-03-27\ndraft: true\n# hints\nsections:\n",
    "date: 2026-03-27\ndraft: true\nsections:\n  - title: A\n    items:\n",
    # no sections key at all, no final newline
    "date: 2026-03-27\ndraft: true",
]

text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda s: s.strip() != "")
fields = st.fixed_dictionaries(
    {"title": text},
    optional={"summary": st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80), "author": text, "date": st.dates(dt.date(1990, 1, 1), dt.date(2100, 1, 1))},
)


@settings(max_examples=150, deadline=None)
@given(issue=st.sampled_from(ISSUES), new=st.lists(fields, min_size=1, max_size=3), section=st.sampled_from([None, "A", "B", "New: one"]))
def test_append_keeps_every_byte_and_adds_exactly_the_items(issue: str, new: list[dict[str, object]], section: str | None) -> None:
    batches = [Batch(section, list(new))]
    edited = append_items(issue, "issues/0001.yaml", batches)
    # Only insertions: the old text is the new one with some lines taken out.
    old_lines, new_lines = issue.splitlines(), edited.splitlines()
    it = iter(new_lines)
    assert all(any(line == n for n in it) for line in old_lines)
    assert yaml.safe_load(edited) == expected_after(yaml.safe_load(issue) or {}, batches)


@pytest.mark.parametrize(
    "title",
    ["- [x]: *a &b", "!!python/object/apply:os.system ['echo hi']", "# not a comment", "key: value", "'quoted' \"both\"", "yes", "0o17", "~", "|", "a\u2028b", "a\x85b\u2029"],
)
def test_hostile_titles_stay_text(title: str) -> None:
    edited = append_items(ISSUES[0], "issues/0001.yaml", [Batch(None, [{"title": title}])])
    assert yaml.safe_load(edited)["sections"][0]["items"][-1] == {"title": title}


def test_flow_sections_and_non_mappings_are_refused() -> None:
    with pytest.raises(DigestError) as e:
        append_items("date: 2026-03-27\nsections: [{title: A, items: []}]\n", "issues/0001.yaml", [Batch(None, [{"title": "t"}])])
    assert str(e.value) == (
        "issues/0001.yaml:2: sections: is written in flow style ([...]); digest adds only to block lists, one '- ' entry per line: rewrite it that way first"
    )
    with pytest.raises(DigestError) as e:
        append_items("date: 2026-03-27\nsections:\n  - title: A\n    items: {}\n", "issues/0001.yaml", [Batch(None, [{"title": "t"}])])
    assert str(e.value).startswith("issues/0001.yaml:4: sections[1].items: is written in flow style ({...})")
    with pytest.raises(DigestError) as e:
        append_items("date: [2026\n", "issues/0001.yaml", [Batch(None, [{"title": "t"}])])
    assert str(e.value).startswith("issues/0001.yaml:")
    assert "fix it first" in str(e.value)


def test_nothing_is_written_when_the_result_fails_validation(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("title: T\nurl: https://t.example/\n", encoding="utf-8")
    (tmp_path / "issues").mkdir()
    path = tmp_path / "issues" / "0001.yaml"
    path.write_bytes(ISSUES[0].encode())
    with pytest.raises(DigestError) as e:
        save_issue(load_config(tmp_path), 1, path, "issues/0001.yaml", path.read_bytes(), [Batch(None, [{"title": "t", "url": "javascript:alert(1)"}])])
    assert str(e.value) == "issues/0001.yaml:9: sections[1].items[2].url: must be an http(s) URL, got 'javascript:alert(1)'"
    assert path.read_bytes() == ISSUES[0].encode()
    assert sorted(p.name for p in (tmp_path / "issues").iterdir()) == ["0001.yaml"]  # no temporary file left


def test_a_file_changed_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("title: T\nurl: https://t.example/\n", encoding="utf-8")
    (tmp_path / "issues").mkdir()
    path = tmp_path / "issues" / "0001.yaml"
    path.write_bytes(ISSUES[0].encode())
    read_before = path.read_bytes()
    path.write_bytes(ISSUES[0].encode() + b"# the curator saved\n")
    with pytest.raises(DigestError) as e:
        save_issue(load_config(tmp_path), 1, path, "issues/0001.yaml", read_before, [Batch(None, [{"title": "t"}])])
    assert str(e.value) == "issues/0001.yaml: changed while digest was editing it; run the command again"
    assert path.read_bytes().endswith(b"# the curator saved\n")
