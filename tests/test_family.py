"""Editions as one family (issue 23): digest editions, digest translate, the untranslated marker, the fingerprint,
check --editions and the config's root:.  On a copy of tests/fixtures/editions (en source; ar, fa right to left; sq).
Building the whole family is in test_family_build.py (slow)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import run

from digest.core.translation import fingerprint

FIXTURE = Path(__file__).parent / "fixtures" / "editions"

TABLE = """\
issue  edition  state      items  translated  untranslated  stale  missing  extra  marked
2      en       draft      1
       ar       absent     -      -           -             -      -        -      -
       fa       absent     -      -           -             -      -        -      -
       sq       absent     -      -           -             -      -        -      -
1      en       published  3
       ar       published  3      3           0             0      0        0      0
       fa       published  3      3           0             0      0        0      0
       sq       absent     -      -           -             -      -        -      -
"""
HEADER = "issue  edition  state      items  translated  untranslated  stale  missing  extra  marked\n"
NOT_TRANSLATED = (
    "is not translated yet (it holds [untranslated]): translate it and delete the marker, or keep the issue a draft"
    " (draft: true)"
)


@pytest.fixture
def family(tmp_path: Path) -> Path:
    """A copy of the four editions; returns the source's folder."""
    shutil.copytree(FIXTURE, tmp_path / "family")
    return tmp_path / "family" / "en"


def editions(*args: str) -> tuple[int, str, str]:
    result = run("editions", *args)
    return result.exit_code, result.stdout, result.stderr


def test_editions_shows_every_issue_of_the_source_and_each_edition(family: Path) -> None:
    assert editions("--root", str(family)) == (0, TABLE, "")


def test_editions_of_one_issue_from_a_translation_s_folder(family: Path) -> None:
    code, out, _ = editions("1", "--root", str(family.parent / "fa"))
    assert code == 0
    assert out == HEADER + TABLE.split("\n", 5)[5]


def test_editions_of_an_issue_the_source_lacks(family: Path) -> None:
    result = run("editions", "7", "--root", str(family))
    assert result.exit_code == 1
    assert result.stderr == "issues: there is no issue 7\n1 error; nothing was written\n"


def test_translate_makes_a_draft_with_every_text_marked(family: Path) -> None:
    result = run("translate", "2", "--to", "fa", "--root", str(family))
    assert result.exit_code == 0, result.output
    assert result.stdout == "created ../fa/issues/0002.yaml (1 item to translate)\n"
    text = (family.parent / "fa" / "issues" / "0002.yaml").read_text()
    assert text.startswith("# Issue 2, carried over from the en edition by `digest translate` to be translated.\n")
    data = yaml.safe_load(text)
    assert data["draft"] is True and str(data["date"]) == "2026-11-13"
    item = data["sections"][0]["items"][0]
    assert data["sections"][0]["title"] == "[untranslated] Open data"
    assert item == {
        "title": "[untranslated] Parliament's votes, one file per session",
        "url": "https://votes.example.net/sessions",
        "summary": "[untranslated] Every vote since 1991, as CSV.",
        "image": {"src": "https://votes.example.net/chart.png", "alt": "[untranslated] A chart of votes per session"},
        "translated_from": fingerprint("Parliament's votes, one file per session", "Every vote since 1991, as CSV."),
    }
    # A draft: check passes, with one note for the whole issue.
    check = run("check", "--root", str(family.parent / "fa"))
    assert check.exit_code == 0
    assert (
        "issues/0002.yaml:9: note: sections[1].title: is not translated yet, nor are 3 other texts (fine for a draft;"
        " translate them before publishing)\n" in check.stderr
    )
    assert editions("2", "--root", str(family)) == (
        0,
        "issue  edition  state   items  translated  untranslated  stale  missing  extra  marked\n"
        "2      en       draft   1\n"
        "       ar       absent  -      -           -             -      -        -      -\n"
        "       fa       draft   1      0           1             0      0        0      4\n"
        "       sq       absent  -      -           -             -      -        -      -\n",
        "",
    )


def test_a_published_translation_with_untranslated_text_fails_check_at_that_line(family: Path) -> None:
    assert run("translate", "1", "--to", "sq", "--root", str(family)).exit_code == 0
    sq = family.parent / "sq"
    path = sq / "issues" / "0001.yaml"
    text = path.read_text()
    # The translator does all but one summary, and publishes.
    for english, albanian in (
        ("[untranslated] Three stories from the commons this week.", "Tri histori nga të përbashkëtat."),
        ("[untranslated] Open data", "Të dhëna të hapura"),
        ("[untranslated] A city publishes its bus timetables as open data", "Një qytet publikon oraret e autobusëve"),
        ("[untranslated] Riders can now build their own apps from the feed.", "Udhëtarët ndërtojnë aplikacione."),
        ("[untranslated] Mapping the wells of a dry valley", "Harta e puseve të një lugine të thatë"),
        ("[untranslated] Volunteers surveyed every well by hand.", "Vullnetarët i matën puset me dorë."),
        ("[untranslated] Rights", "Të drejta"),
        ("[untranslated] Court upholds the right to read public contracts", "Gjykata mbron të drejtën e leximit"),
    ):
        text = text.replace(f"'{english}'", albanian)
    path.write_text(text.replace("draft: true", "draft: false"))
    line = text.splitlines().index("        summary: '[untranslated] The ruling covers every municipal contract.'") + 1
    result = run("check", "--root", str(sq))
    assert result.exit_code == 1
    assert result.stderr == f"issues/0001.yaml:{line}: sections[2].items[1].summary: {NOT_TRANSLATED}\n1 error\n"
    # The family's check reports it from the source's folder, with the other editions' problems in the same round.
    family_check = run("check", "--editions", "--root", str(family))
    assert family_check.exit_code == 1
    assert f"../sq/issues/0001.yaml:{line}: sections[2].items[1].summary: {NOT_TRANSLATED}\n" in family_check.stderr
    # Never sent or exported either.
    export = run("export", "1", "--root", str(sq))
    assert export.exit_code == 1
    assert (
        export.stderr
        == f"issues/0001.yaml:{line}: sections[2].items[1].summary: {NOT_TRANSLATED}\n1 error; nothing was written\n"
    )
    code, out, _ = editions("1", "--strict", "--root", str(family))
    assert out.splitlines()[4] == "       sq       published  3      2           1             0      0        0      1"
    assert code == 1


def test_a_draft_with_untranslated_text_is_not_exported(family: Path) -> None:
    assert run("translate", "2", "--to", "ar", "--root", str(family)).exit_code == 0
    result = run("export", "2", "--root", str(family.parent / "ar"))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "issues/0002.yaml:9: sections[1].title: is not translated yet (it holds [untranslated]): translate it and"
        " delete the marker before sending\n"
    )
    assert result.stderr.endswith("4 errors; nothing was written\n")


def test_editing_the_source_after_makes_the_translation_stale_and_a_new_item_missing(family: Path) -> None:
    source = family / "issues" / "0001.yaml"
    text = source.read_text().replace("every well by hand", "all 212 wells by hand")
    source.write_text(text + "      - title: A new law on open budgets\n        url: https://law.example.net/budgets\n")
    code, out, _ = editions("1", "--root", str(family))
    assert out.splitlines()[1:] == [
        "1      en       published  4",
        "       ar       published  3      2           0             1      1        0      0",
        "       fa       published  3      2           0             1      1        0      0",
        "       sq       absent     -      -           -             -      -        -      -",
    ]
    assert code == 0
    strict = run("editions", "1", "--strict", "--root", str(family))
    assert strict.exit_code == 1
    assert strict.stderr == "2 published translations are behind the source (ar 1, fa 1)\n"
    # translate adds only the missing item: every byte that was there stays, comments included.
    fa = family.parent / "fa" / "issues" / "0001.yaml"
    before = fa.read_text()
    result = run("translate", "1", "--to", "fa", "--root", str(family))
    assert result.stdout == "added 1 item to translate to ../fa/issues/0001.yaml\n"
    assert result.stderr == "note: ../fa/issues/0001.yaml is published: check fails until they are translated\n"
    after = fa.read_text()
    assert after == before + (
        "      - title: '[untranslated] A new law on open budgets'\n"
        "        url: https://law.example.net/budgets\n"
        f"        translated_from: {fingerprint('A new law on open budgets', None)}\n"
    )
    again = run("translate", "1", "--to", "fa", "--root", str(family))
    assert again.stdout == "nothing to add: ../fa/issues/0001.yaml has every item of issue 1\n"
    assert fa.read_text() == after


def test_an_item_missing_from_a_section_goes_to_the_section_with_its_id(family: Path) -> None:
    source = family / "issues" / "0001.yaml"
    source.write_text(
        source.read_text().replace(
            "  - title: Rights\n",
            "      - title: Rivers, measured\n        url: https://maps.example.net/rivers\n  - title: Rights\n",
        )
    )
    assert run("translate", "1", "--to", "ar", "--root", str(family)).exit_code == 0
    data = yaml.safe_load((family.parent / "ar" / "issues" / "0001.yaml").read_text())
    assert [i["url"] for i in data["sections"][0]["items"]][-1] == "https://maps.example.net/rivers"


def test_the_fingerprint_survives_a_reformat_of_either_file(family: Path) -> None:
    # The translation rewritten by a YAML tool (comments lost, keys reordered, another quoting) keeps its state.
    fa = family.parent / "fa" / "issues" / "0001.yaml"
    data = yaml.safe_load(fa.read_text())
    for section in data["sections"]:
        section["items"] = [dict(sorted(item.items())) for item in section["items"]]
    fa.write_text(yaml.dump(data, allow_unicode=True, default_style='"'))
    # The source's summary re-wrapped as a folded block: the same words, not stale.
    source = family / "issues" / "0001.yaml"
    source.write_text(
        source.read_text().replace(
            "summary: Volunteers surveyed every well by hand.",
            "summary: >\n          Volunteers surveyed\n          every well by hand.",
        )
    )
    code, out, _ = editions("1", "--root", str(family))
    assert out.splitlines()[3] == "       fa       published  3      3           0             0      0        0      0"
    assert fingerprint("a  b\n c", None) == fingerprint("a b c", None) != fingerprint("a b d", None)


def test_translate_refuses_the_source_an_unknown_language_and_an_edition_without_root(family: Path) -> None:
    result = run("translate", "1", "--to", "en", "--root", str(family))
    assert (result.exit_code, result.stderr) == (
        1,
        "--to: en is the source edition: translate from it into another edition (--to fa)\n1 error; nothing was"
        " written\n",
    )
    result = run("translate", "1", "--to", "de", "--root", str(family))
    assert result.stderr.startswith("--to: no edition is in 'de': the local editions are ar, fa, sq\n")
    config = family / "config.yaml"
    config.write_text(config.read_text().replace(", root: ../sq", ""))
    result = run("translate", "1", "--to", "sq", "--root", str(family))
    assert result.exit_code == 1
    assert result.stderr == (
        "config.yaml:16: editions[4]: sq has no root: translate writes into a local edition's folder (root: its"
        " newsletter folder)\n1 error; nothing was written\n"
    )
    assert not (family.parent / "sq" / "issues" / "0001.yaml").exists()


def test_root_must_be_a_newsletter_folder(family: Path) -> None:
    config = family / "config.yaml"
    text = config.read_text()
    config.write_text(text.replace("root: ../sq", "root: ../nowhere").replace("root: ../ar", "root: ../en/issues"))
    result = run("check", "--root", str(family))
    assert result.exit_code == 1
    assert result.stderr == (
        "config.yaml:14: editions[2].root: '../en/issues' has no config.yaml: is it the edition's newsletter folder?\n"
        "config.yaml:16: editions[4].root: '../nowhere' is not a folder (a local edition's newsletter folder,"
        " relative to this one)\n2 errors\n"
    )


def test_a_family_needs_a_local_edition(family: Path) -> None:
    config = family / "config.yaml"
    text = config.read_text()
    for lang in ("ar", "fa", "sq"):
        text = text.replace(f", root: ../{lang}", "")
    config.write_text(text)
    result = run("editions", "--root", str(family))
    assert result.exit_code == 1
    assert result.stderr.startswith("config.yaml:11: editions: names no local edition: give an edition the folder")


def test_translated_from_must_be_a_fingerprint(family: Path) -> None:
    fa = family.parent / "fa" / "issues" / "0001.yaml"
    fa.write_text(fa.read_text().replace("translated_from: 6adfa598d5f9", "translated_from: yesterday"))
    result = run("check", "--root", str(fa.parent.parent))
    assert result.exit_code == 1
    assert result.stderr == (
        "issues/0001.yaml:17: sections[1].items[2].translated_from: must be the 12 hex digits digest translate wrote"
        " (the source item's fingerprint); delete the line if it is not a translation\n1 error\n"
    )


def test_check_editions_checks_every_edition(family: Path) -> None:
    result = run("check", "--editions", "--root", str(family))
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 4 editions, 5 issues: no errors\n"


def test_root_names_the_entry_s_own_folder(family: Path) -> None:
    config = family / "config.yaml"
    config.write_text(config.read_text().replace("root: .}", "root: ../sq}").replace("root: ../fa,", "root: .,"))
    result = run("check", "--root", str(family))
    assert result.exit_code == 1
    assert result.stderr == (
        "config.yaml:12: editions[1].root: is another folder, but this entry's url is this newsletter's\n"
        "config.yaml:15: editions[3].root: is this newsletter's folder, but this entry's url is another edition's\n"
        "2 errors\n"
    )


def test_the_preview_highlights_marked_text_only_in_text() -> None:
    from digest.preview.family import highlight

    email = (
        "<html><head><title>[untranslated] T</title><style>p{}</style></head><body><p>Kept [untranslated] Open data"
        '</p><img alt="[untranslated] A chart"><p>Done</p></body></html>'
    )
    assert highlight(email) == email.replace(
        "Kept [untranslated] Open data",
        'Kept <mark class="digest-untranslated" style="background:#fde047;color:#1d1d1f;outline:2px solid #ca8a04">'
        "[untranslated] Open data</mark>",
    )
    assert highlight("<p>Done</p>") == "<p>Done</p>"


def test_right_to_left_text_is_carried_as_written(family: Path) -> None:
    # An English item quoting an Arabic name with a right-to-left mark: the translation file holds the same
    # characters (no escapes, the mark kept), and the Persian file's own text is untouched by an addition.
    source = family / "issues" / "0002.yaml"
    title = "Votes of \u200fمجلس الشعب\u200f, one file per session"
    source.write_text(source.read_text().replace("Parliament's votes, one file per session", title))
    assert run("translate", "2", "--to", "fa", "--root", str(family)).exit_code == 0
    written = (family.parent / "fa" / "issues" / "0002.yaml").read_text()
    assert f"title: '[untranslated] {title}'\n" in written
    assert yaml.safe_load(written)["sections"][0]["items"][0]["title"] == f"[untranslated] {title}"


def test_check_editions_of_one_issue_checks_the_editions_that_have_it(family: Path) -> None:
    result = run("check", "--editions", "--issue", "1", "--root", str(family))
    assert (result.exit_code, result.stdout) == (0, "checked 4 editions, 5 issues: no errors\n")
    missing = run("check", "--editions", "--issue", "9", "--root", str(family))
    assert missing.exit_code == 1
    assert missing.stderr == "issues: there is no issue 9\n1 error\n"


def test_an_extra_item_and_a_file_that_does_not_parse(family: Path) -> None:
    fa = family.parent / "fa" / "issues" / "0001.yaml"
    fa.write_text(fa.read_text() + "      - title: یک خبر محلی\n        url: https://news.example.ir/local\n")
    (family.parent / "ar" / "issues" / "0001.yaml").write_text("date: [\n")
    code, out, _ = editions("1", "--root", str(family))
    assert (code, out.splitlines()[2:4]) == (
        0,
        [
            "       ar       invalid    -      -           -             -      -        -      -",
            "       fa       published  4      3           0             0      0        1      0",
        ],
    )


@pytest.mark.parametrize("planted", ["file", "dangling", "folder"])
def test_translate_never_writes_through_a_link_out_of_the_edition(family: Path, planted: str) -> None:
    """An edition's folder may arrive from someone else: a link in it named as the issue to create, or an issues/
    folder that is a link, is refused and never written through."""
    outside = family.parent.parent / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("mine")
    issues = family.parent / "fa" / "issues"
    if planted == "folder":
        shutil.move(issues, outside / "issues")
        issues.symlink_to(outside / "issues")
        message = "../fa/issues: is a symlink to a folder outside the newsletter folder; refusing to read it"
    elif planted == "file":
        (issues / "0002.yaml").symlink_to(victim)
        message = "../fa/issues/0002.yaml: is a symlink to a file outside the newsletter folder; refusing to read it"
    else:
        (issues / "0002.yaml").symlink_to("../../../outside/nothing.yaml")
        message = "../fa/issues/0002.yaml: is a symlink to '../../../outside/nothing.yaml', which does not exist"
    result = run("translate", "2", "--to", "fa", "--root", str(family))
    assert (result.exit_code, result.stderr) == (1, f"{message}\n1 error; nothing was written\n")
    assert victim.read_text() == "mine"
    assert sorted(p.name for p in outside.rglob("*")) == sorted(
        ["victim.txt", *(["issues", "0001.yaml"] * (planted == "folder"))]
    )
