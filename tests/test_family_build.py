"""build --editions (issue 23): the four-edition fixture built as one tree and as four sites.  Slow: each test
builds all four editions, some of them several times."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import run, tree

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parent / "fixtures" / "editions"
LANGUAGES = ("en", "ar", "fa", "sq")


@pytest.fixture
def family(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "family")
    return tmp_path / "family" / "en"


def _alternates(page: bytes) -> list[tuple[str, str]]:
    return re.findall(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">', page.decode())


def test_the_combined_tree_is_each_edition_as_built_alone(family: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    result = run("build", "--editions", "--out", str(out), "--root", str(family))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"built 4 editions into \S+: 5 issues \(\d changed\) in \d+\.\d s\n", result.stdout)
    combined = tree(out)
    for lang in LANGUAGES:
        alone = tmp_path / f"alone-{lang}"
        assert run("build", "--root", str(family.parent / lang), "--out", str(alone)).exit_code == 0
        place = "" if lang == "en" else f"{lang}/"
        mine = {rel[len(place) :]: data for rel, data in combined.items() if rel.startswith(place)}
        if lang == "en":
            mine = {rel: data for rel, data in mine.items() if rel.split("/")[0] not in LANGUAGES}
        assert mine == tree(alone), lang
    # Each issue page links its siblings' same issue where they publish it (hreflang), and nothing else.
    assert _alternates(combined["issues/1/index.html"]) == [
        ("en", "https://commons.example.org/issues/1/"),
        ("ar", "https://commons.example.org/ar/issues/1/"),
        ("fa", "https://commons.example.org/fa/issues/1/"),
        ("x-default", "https://commons.example.org/issues/1/"),
    ]
    assert _alternates(combined["fa/issues/1/index.html"]) == [
        ("en", "https://commons.example.org/issues/1/"),
        ("ar", "https://commons.example.org/ar/issues/1/"),
        ("fa", "https://commons.example.org/fa/issues/1/"),
        ("x-default", "https://commons.example.org/issues/1/"),
    ]
    assert _alternates(combined["sq/issues/3/index.html"]) == []  # no other edition has issue 3
    # The switcher sends a reader of issue 1 to sq's archive, which has no issue 1; the email's footer too.
    for name in ("issues/1/index.html", "issues/1/email.html", "issues/1/email.txt"):
        assert b"https://commons.example.org/sq/issues/1/" not in combined[name]
        assert b"https://commons.example.org/ar/issues/1/" in combined[name]
    # Right to left stays right to left; the fingerprints reach no output.
    for lang in ("ar", "fa"):
        page = combined[f"{lang}/issues/1/index.html"].decode()
        assert f'<html lang="{lang}" dir="rtl"' in page
        assert 'dir="rtl"' in combined[f"{lang}/issues/1/email.html"].decode()
    assert 'dir="ltr"' in combined["sq/issues/3/index.html"].decode()
    assert "مشاع" in combined["fa/index.html"].decode()
    for rel, data in combined.items():
        assert b"translated_from" not in data and b"6adfa598d5f9" not in data, rel


def test_a_failing_edition_leaves_the_tree_and_every_site_as_they_were(family: Path, tmp_path: Path) -> None:
    out = tmp_path / "public"
    assert run("build", "--editions", "--out", str(out), "--root", str(family)).exit_code == 0
    assert run("build", "--editions", "--root", str(family)).exit_code == 0
    before = tree(out)
    sites = {lang: tree(family.parent / lang / "site") for lang in LANGUAGES}
    # The source's issue 1 changes (every edition would rebuild); two translations break, in one round.
    source = family / "issues" / "0001.yaml"
    source.write_text(source.read_text().replace("Three stories", "Four stories"))
    fa = family.parent / "fa" / "issues" / "0001.yaml"
    fa.write_text(fa.read_text().replace("url: https://maps.example.net/fa/wells", "url: javascript:alert(1)"))
    sq = family.parent / "sq" / "issues" / "0003.yaml"
    sq.write_text(sq.read_text().replace("date: 2026-11-20", "date: 2026-11-31"))
    for args in (("--out", str(out)), ()):
        result = run("build", "--editions", *args, "--root", str(family))
        assert result.exit_code == 1
        assert result.stderr == (
            "../fa/issues/0001.yaml:15: sections[1].items[2].url: must be an http(s) URL, got 'javascript:alert(1)'\n"
            "../sq/issues/0003.yaml:2: date: '2026-11-31' is not a valid date\n2 errors; nothing was written\n"
        )
    assert tree(out) == before
    assert {lang: tree(family.parent / lang / "site") for lang in LANGUAGES} == sites


def test_an_edition_outside_the_source_url_has_no_place_in_the_tree(family: Path, tmp_path: Path) -> None:
    config = family / "config.yaml"
    config.write_text(config.read_text().replace("https://commons.example.org/sq/", "https://sq.example.org/"))
    sq = family.parent / "sq" / "config.yaml"
    sq.write_text(sq.read_text().replace("url: https://commons.example.org/sq/", "url: https://sq.example.org/"))
    result = run("build", "--editions", "--out", str(tmp_path / "public"), "--root", str(family))
    assert result.exit_code == 1
    assert result.stderr == (
        "config.yaml:16: editions[4].url: https://sq.example.org/ is not below the source edition's url"
        " https://commons.example.org/: build --editions --out puts every edition at its url's path below the"
        " source's\n1 error; nothing was written\n"
    )
    assert not (tmp_path / "public").exists()


def test_serve_from_the_source_shows_the_family(family: Path) -> None:
    from test_server import Serve, _serving_port, fetch

    assert run("translate", "2", "--to", "fa", "--root", str(family)).exit_code == 0
    server = Serve("--root", str(family), "--port", "0", "--no-watch")
    try:
        port = _serving_port(server, family)
        status, _, index = fetch(port, "/")
        assert status == 200
        panel = re.search(r'<div class="panel" id="editions">.*?</table>', index.decode())
        assert panel is not None
        assert (
            '<tr><td>#2</td><td><a href="/preview/2/">draft</a> · 1 items</td><td><span class="muted">absent</span>'
            '</td><td><a href="/fa/preview/2/">draft</a> <span class="bad">1 untranslated</span></td><td><span'
            ' class="muted">absent</span></td></tr>'
        ) in panel.group()
        status, _, page = fetch(port, "/fa/preview/2/")
        assert status == 200
        text = page.decode()
        # The language switch: English has issue 2, Arabic and Albanian do not; this page is the Persian one.
        assert '<a href="/preview/2/" hreflang="en"><span lang="en" dir="auto">English</span></a>' in text
        assert '<strong aria-current="page"><span lang="fa" dir="auto">فارسی</span></strong>' in text
        assert '<span class="muted" title="no issue 2 there"><span lang="ar" dir="auto">العربية</span></span>' in text
        assert "<li>issues/0002.yaml:9: sections[1].title</li>" in text
        assert '<a href="/fa/">← all issues</a>' in text
        status, _, email = fetch(port, "/fa/preview/2/email.html")
        assert status == 200
        assert (
            '<mark class="digest-untranslated" style="background:#fde047;color:#1d1d1f;outline:2px solid #ca8a04">'
            "[untranslated] Open data</mark>"
        ) in email.decode()
        assert 'alt="[untranslated] A chart of votes per session"' in email.decode()  # attributes untouched
        # The edition's own site, under its prefix; and the source's page has the switch too.
        status, _, fa_page = fetch(port, "/fa/issues/1/")
        assert status == 200 and '<html lang="fa" dir="rtl"' in fa_page.decode()
        status, _, en_page = fetch(port, "/preview/1/")
        assert '<a href="/sq/preview/1/"' not in en_page.decode() and '<a href="/ar/preview/1/"' in en_page.decode()
    finally:
        assert server.stop() == 0
