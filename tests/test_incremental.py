"""Incremental and parallel builds (issue 3): same bytes, less work, never a stale or corrupt result."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import build, tree

from benchmarks.bench import add_issue, make_newsletter
from digest.core.cachedir import newsletter_cache
from digest.pipeline import build as pipeline


def _newsletter(tmp_path: Path, n: int = 12) -> Path:
    root = tmp_path / "news"
    make_newsletter(root, n)
    return root


def _records(root: Path) -> Path:
    """The folder of the newsletter's cached issues (digest.pipeline.cache)."""
    return newsletter_cache(root) / "issues"


def assert_same_as_a_clean_build(root: Path, tmp_path: Path) -> None:
    """The site built incrementally in ``root`` is exactly what a clean one-process build makes
    (a copy elsewhere has a cache folder of its own: it starts with none)."""
    clean = tmp_path / "clean"
    shutil.rmtree(clean, ignore_errors=True)  # a test may compare more than once
    shutil.rmtree(newsletter_cache(clean))
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("site", ".site*"))
    assert build(clean, jobs=1).changed == len(list((clean / "issues").glob("*.yaml")))
    assert tree(root / "site") == tree(clean / "site")


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """Record each call of the stage ``name`` as digest.pipeline.build calls it: what its first
    argument after the context is about (an issue's or a source's number, an archive page's path)."""
    calls: list[Any] = []
    real = getattr(pipeline, name)

    def counted(ctx: object, first: object, *rest: object) -> object:
        calls.append(first.path if name == "render_archive_page" else first.number)  # type: ignore[attr-defined]
        return real(ctx, first, *rest)

    monkeypatch.setattr(pipeline, name, counted)
    return calls


@pytest.mark.slow
def test_process_pool_output_is_byte_identical_to_a_single_process_build(tmp_path: Path) -> None:
    root = _newsletter(tmp_path)
    assert len(list((root / "issues").glob("*.yaml"))) >= pipeline.POOL_THRESHOLD  # enough for the pool to start
    one = build(root, tmp_path / "one", jobs=1)
    shutil.rmtree(newsletter_cache(root))
    many = build(root, tmp_path / "many", jobs=2)
    assert one.changed == many.changed == 12
    assert tree(tmp_path / "one") == tree(tmp_path / "many")


def test_no_op_rebuild_renders_nothing_and_changes_nothing(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 4)
    first = build(root)
    before = tree(root / "site")
    inodes = {rel: (root / "site" / rel).stat().st_ino for rel in before}
    again = build(root)
    assert (first.changed, again.changed) == (4, 0)
    assert (again.issues, again.published, again.files) == (first.issues, first.published, first.files)
    assert tree(root / "site") == before
    assert {rel: (root / "site" / rel).stat().st_ino for rel in before} == inodes  # not even rewritten


@pytest.mark.slow
def test_adding_an_issue_renders_only_it_and_updates_archive_and_feeds(tmp_path: Path) -> None:
    root = _newsletter(tmp_path)
    build(root)
    add_issue(root, 13)
    report = build(root)
    assert report.changed == 1
    assert (root / "site/issues/13/email.html").is_file()
    assert "https://bench.example.org/issues/13/" in (root / "site/index.html").read_text()
    feed = json.loads((root / "site/feed.json").read_text())
    assert feed["items"][0]["id"] == "https://bench.example.org/issues/13/"
    assert_same_as_a_clean_build(root, tmp_path)


@pytest.mark.slow
def test_workers_fork_after_the_heavy_imports(tmp_path: Path) -> None:
    """The pool's workers inherit rendering's libraries instead of importing them each."""
    root = _newsletter(tmp_path, 10)
    code = (
        "import sys, concurrent.futures as cf\nfrom pathlib import Path\nfrom digest.core.config import"
        " load_config\nfrom digest.pipeline.build import build\nseen = []\nreal = cf.ProcessPoolExecutor.__init__\ndef"
        " init(self, *a, **k):\n    seen.append(sorted(m for m in ('premailer', 'mjml', 'jinja2', 'markdown_it',"
        " 'lxml') if m in sys.modules))\n    real(self, *a, **k)\ncf.ProcessPoolExecutor.__init__ = init\nassert"
        " build(load_config(Path(sys.argv[1])), jobs=2).changed == 10\nprint(seen)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[['jinja2', 'lxml', 'markdown_it', 'mjml', 'premailer']]"
    assert_same_as_a_clean_build(root, tmp_path)


def test_editing_a_template_or_config_re_renders_everything(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 3)
    build(root)
    (root / "templates").mkdir()
    (root / "templates" / "email.txt").write_text("{{ issue.title }} — custom\n")
    assert build(root).changed == 3
    assert (root / "site/issues/2/email.txt").read_text().endswith("— custom\n")
    config = root / "config.yaml"
    config.write_text(config.read_text().replace("Bench Weekly", "Bench Monthly"))
    assert build(root).changed == 3
    assert "Bench Monthly" in (root / "site/issues/2/index.html").read_text()


@pytest.mark.slow
def test_a_cached_issue_keeps_its_warnings_and_is_not_validated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated = _counting(monkeypatch, "validate_issue")
    root = _newsletter(tmp_path, 3)
    # A warning (vague link text) must come back from the cache like the rendered files.
    issue = root / "issues/0002.yaml"
    issue.write_text(re.sub(r"\[the [^\]]*\]", "[click here]", issue.read_text(), count=1))
    first = build(root, jobs=1)
    warnings = [str(w) for w in first.warnings]
    assert len(validated) == 3 and any("click here" in w for w in warnings)

    validated.clear()
    _edit(root, 3, "Thanks for reading.", "Thanks for reading!")
    report = build(root, jobs=1)
    assert report.changed == 1 and len(validated) == 1  # the edited issue only
    assert [str(w) for w in report.warnings] == warnings

    # A damaged record is validated and rendered again, never used.
    for record in _records(root).iterdir():
        record.write_bytes(b"{not json" + record.read_bytes())  # its head line
    validated.clear()
    report = build(root, tmp_path / "elsewhere", jobs=1)
    assert report.changed == 3 and len(validated) == 3
    assert [str(w) for w in report.warnings] == warnings

    validated.clear()
    config = root / "config.yaml"
    config.write_text(config.read_text().replace("Bench Weekly", "Bench Monthly"))
    assert build(root, jobs=1).changed == 3
    assert len(validated) == 3  # validation reads config.yaml: it is part of every key
    assert_same_as_a_clean_build(root, tmp_path)


def test_a_corrupt_cache_is_detected_and_ignored(tmp_path: Path) -> None:
    from digest.pipeline.cache import Cache

    root = _newsletter(tmp_path, 3)
    build(root)
    good = tree(root / "site")
    records = sorted(_records(root).iterdir())
    assert len(records) == 3
    # Damage one record's rendered file, and another's head (its JSON line); a third loses its last file.
    head, files = records[0].read_bytes().split(b"\n", 1)
    records[0].write_bytes(head + b"\n" + files.replace(b"Bench", b"Bxnch", 1))
    records[1].write_bytes(b"{not json" + records[1].read_bytes())
    records[2].write_bytes(records[2].read_bytes()[:-100])
    # Into a new folder, so that every file is made (the site's own copies are not read).
    report = build(root, tmp_path / "other")
    assert report.changed == 1  # the unreadable record; the others' damaged files are rendered again
    assert tree(tmp_path / "other") == good
    assert Cache(newsletter_cache(root)).get(records[1].name) is not None  # stored again


def test_a_record_damaged_after_it_was_read_gives_the_right_bytes(tmp_path: Path) -> None:
    """A record's files are read only when needed: one damaged meanwhile is rendered again, not used."""
    from digest.core.config import load_config
    from digest.pipeline.cache import Cache, issue_keys
    from digest.pipeline.stages import context, read_sources

    root = _newsletter(tmp_path, 2)
    build(root)
    ctx = context(load_config(root))
    sources = read_sources(ctx.config)
    cache = Cache(newsletter_cache(root))
    result, _ = pipeline.each_issue(ctx, cache, sources, issue_keys(ctx, sources), 1, None)
    assert result.cached is not None and result.files is None
    good = (root / "site/issues/1/email.html").read_bytes()
    pack = result.cached.pack.path
    head, files = pack.read_bytes().split(b"\n", 1)
    pack.write_bytes(head + b"\n" + files.replace(b"<!doctype html>", b"<script>alert(1)</script>", 1))
    assert result.file(ctx, "email.html") == good


def test_an_edited_site_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 3)
    build(root)
    good = tree(root / "site")
    (root / "site/index.html").write_text("defaced")
    (root / "site/extra.html").write_text("extra")
    build(root)
    assert tree(root / "site") == good


def test_the_cache_holds_data_only_outside_the_newsletter(tmp_path: Path) -> None:
    """A cache must never be able to run code on load: records are JSON and rendered bytes
    (no pickle, no compiled templates).  It is this user's, outside the newsletter folder."""
    root = _newsletter(tmp_path, 1)
    build(root)
    cache = newsletter_cache(root)
    assert not cache.is_relative_to(root) and not root.is_relative_to(cache)
    assert sorted(p.name for p in root.iterdir()) == ["config.yaml", "issues", "site"]
    files = sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file())
    (key,) = [p.name for p in (cache / "issues").iterdir()]
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    # The search bundle (digest.pipeline.search): Pagefind's output, files to publish, as one pack.
    (bundle,) = [p.name for p in (cache / "search").iterdir()]
    assert files == ["build.lock", f"issues/{key}", f"search/{bundle}", "sites.json"]
    for path in cache.rglob("*.json"):
        json.loads(path.read_bytes())  # JSON through and through
    with open(cache / "issues" / key, "rb") as f:
        meta = json.loads(f.readline())  # a record: a JSON line, then the rendered files' bytes
    assert {"issue", "warnings", "files"} <= set(meta)
    assert [name for name, _, _ in meta["files"]] == ["email.html", "email.txt", "content.html"]
    with open(cache / "search" / bundle, "rb") as f:
        listed = json.loads(f.readline())["files"]
    assert "pagefind-entry.json" in [name for name, _, _ in listed]


@pytest.mark.slow
def test_help_and_no_op_build_do_not_import_heavy_libraries(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 2)
    build(root)
    code = (
        "import sys\nfrom click.testing import CliRunner\nfrom digest.cli import main\nassert CliRunner().invoke(main,"
        " ['--help']).exit_code == 0\nafter_help = set(sys.modules)\nr = CliRunner().invoke(main, ['build', '--root',"
        " sys.argv[1]])\nassert r.exit_code == 0 and '(0 changed)' in r.output, r.output\nheavy = {'premailer',"
        " 'feedgen', 'lxml', 'mjml', 'cssutils', 'markdown_it', 'jinja2', 'requests'}\nprint(sorted({m.split('.')[0]"
        " for m in after_help} & heavy), sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"


@pytest.mark.slow
def test_a_build_leaves_other_libraries_modules_as_they_are(tmp_path: Path) -> None:
    """No stand-ins in sys.modules (issue 18): after a rendering build, premailer's requests
    is the real package, as any code that uses it expects."""
    root = _newsletter(tmp_path, 2)
    code = (
        "import sys, types\n"
        "from pathlib import Path\n"
        "from digest.core.config import load_config\n"
        "from digest.pipeline.build import build\n"
        "assert build(load_config(Path(sys.argv[1]))).changed == 2\n"
        "import premailer.premailer, requests\n"
        "real = type(requests) is types.ModuleType and requests.__spec__ is not None and requests.__spec__.origin\n"
        "print(premailer.premailer.requests is requests, bool(real), Path(requests.__file__).parent.name)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["True True requests"]


def _edit(root: Path, number: int, old: str, new: str) -> None:
    path = root / "issues" / f"{number:04d}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.slow
def test_an_edit_renders_only_that_issue_and_the_pages_whose_neighbours_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _newsletter(tmp_path, 6)
    build(root)
    rendered = _counting(monkeypatch, "render_issue")
    pages = _counting(monkeypatch, "render_page")
    _edit(root, 4, "Thanks for reading.", "Thanks for reading!")  # its body: no other page shows it
    assert build(root).changed == 1
    assert (rendered, pages) == ([4], [4])
    assert_same_as_a_clean_build(root, tmp_path)
    rendered.clear()
    pages.clear()
    _edit(root, 4, 'title: "Issue 4', 'title: "Issue four')  # its title: its neighbours and the recent list show it
    assert build(root).changed == 1
    assert rendered == [4]
    assert sorted(pages) == [1, 2, 3, 4, 5, 6]  # 3 and 5 link it; every page lists the recent issues
    assert_same_as_a_clean_build(root, tmp_path)


def test_a_template_that_reads_cached_issues_sections_gets_them(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 6)
    archive = (Path(__file__).parent.parent / "digest/render/templates/archive.html").read_text()
    marker = '<time datetime="{{ issue.date.isoformat() }}">'
    assert marker in archive
    listing = (
        "{% for s in issue.sections %}[{{ s.title }}: {% for i in s.items %}{{ i.title }}; {% endfor %}]{% endfor %}"
        + marker
    )
    (root / "templates").mkdir()
    (root / "templates" / "archive.html").write_text(archive.replace(marker, listing))
    build(root)
    _edit(root, 6, "Thanks for reading.", "Thanks for reading!")
    assert build(root).changed == 1  # the archive page lists 1-5 from their cached models
    assert_same_as_a_clean_build(root, tmp_path)
    index = (root / "site" / "index.html").read_text()
    assert index.count("[") >= 6 and all(f"/issues/{n}/" in index for n in range(1, 7))


def test_each_markdown_text_is_parsed_once_for_validation_and_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collections

    from markdown_it import MarkdownIt

    from digest.core import markdown
    from digest.core.config import load_config
    from digest.pipeline.stages import context, read_sources, render_issue, validate_issue

    root = _newsletter(tmp_path, 1)
    assert hasattr(markdown._parse, "cache_clear")
    parses: collections.Counter[str] = collections.Counter()
    for name in ("parse", "parseInline"):
        real = getattr(MarkdownIt, name)
        monkeypatch.setattr(
            MarkdownIt, name, lambda self, src, env=None, _real=real: parses.update([src]) or _real(self, src, env)
        )
    from digest.core import plaintext

    for module in (markdown, plaintext):  # results of earlier tests' renders would hide the parses
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
    ctx = context(load_config(root))
    (source,) = read_sources(ctx.config)
    checked = validate_issue(ctx, source)
    assert checked.issue is not None
    render_issue(ctx, checked.issue)
    assert len(parses) > 40  # the summaries, intro, outro and titles
    assert parses.most_common(1)[0][1] == 1


@pytest.mark.slow
def test_an_edit_renders_only_the_archive_page_that_lists_the_issue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _newsletter(tmp_path, 65)  # three archive pages of 30
    build(root)
    rendered = _counting(monkeypatch, "render_archive_page")
    _edit(root, 2, "Thanks for reading.", "Thanks for reading!")
    assert build(root).changed == 1
    assert rendered == ["page/3/index.html"]
    assert_same_as_a_clean_build(root, tmp_path)
    _edit(root, 65, 'title: "Issue 65', 'title: "Issue sixty-five')
    rendered.clear()
    build(root)
    assert rendered == ["index.html"]
    assert_same_as_a_clean_build(root, tmp_path)


def test_a_config_change_remakes_an_archive_that_lists_no_issue(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 1)
    (root / "issues" / "0001.yaml").unlink()  # a newsletter before its first issue
    build(root)
    config = root / "config.yaml"
    config.write_text(config.read_text().replace("title: Bench Weekly", "title: Bench Monthly"))
    build(root)
    assert b"Bench Monthly" in (root / "site" / "index.html").read_bytes()
    assert_same_as_a_clean_build(root, tmp_path)


def test_records_no_build_uses_are_removed(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 3)
    build(root)
    before = {p.name for p in _records(root).iterdir()}
    _edit(root, 2, "Thanks for reading.", "Thanks for reading!")
    (_records(root) / ".stray.123.tmp").mkdir()  # as a killed build leaves a record it was writing
    build(root)
    after = {p.name for p in _records(root).iterdir()}
    assert len(after) == 3 and len(before & after) == 2  # the edited issue's old record is gone, and the stray one
