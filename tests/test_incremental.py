"""Incremental and parallel builds (issue 3): same bytes, less work, never a stale or corrupt result."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import tree

from digest.bench import add_issue, make_newsletter
from digest.build.pipeline import build
from digest.build.cache import CACHE_DIR


def _newsletter(tmp_path: Path, n: int = 12) -> Path:
    root = tmp_path / "news"
    make_newsletter(root, n)
    return root


def assert_same_as_a_clean_build(root: Path, tmp_path: Path) -> None:
    """The site built incrementally in ``root`` is exactly what a clean one-process build makes."""
    clean = tmp_path / "clean"
    shutil.rmtree(clean, ignore_errors=True)  # a test may compare more than once
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns(CACHE_DIR, "site", ".site*"))
    build(clean, jobs=1)
    assert tree(root / "site") == tree(clean / "site")


def test_process_pool_output_is_byte_identical_to_a_single_process_build(tmp_path: Path) -> None:
    root = _newsletter(tmp_path)
    one = build(root, tmp_path / "one", jobs=1)
    shutil.rmtree(root / CACHE_DIR)
    many = build(root, tmp_path / "many", jobs=2)
    assert one.changed == many.changed == 12
    assert tree(tmp_path / "one") == tree(tmp_path / "many")


def test_no_op_rebuild_renders_nothing_and_changes_nothing(tmp_path: Path) -> None:
    root = _newsletter(tmp_path)
    first = build(root)
    before = tree(root / "site")
    again = build(root)
    assert (first.changed, again.changed) == (12, 0)
    assert (again.issues, again.published, again.files) == (first.issues, first.published, first.files)
    assert tree(root / "site") == before


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


def test_workers_fork_after_the_heavy_imports(tmp_path: Path) -> None:
    """The pool's workers inherit rendering's libraries instead of importing them each."""
    root = _newsletter(tmp_path, 10)
    code = (
        "import sys, concurrent.futures as cf\n"
        "from pathlib import Path\n"
        "from digest.build.pipeline import build\n"
        "seen = []\n"
        "real = cf.ProcessPoolExecutor.__init__\n"
        "def init(self, *a, **k):\n"
        "    seen.append(sorted(m for m in ('premailer', 'mjml', 'jinja2', 'markdown_it', 'lxml') if m in sys.modules))\n"
        "    real(self, *a, **k)\n"
        "cf.ProcessPoolExecutor.__init__ = init\n"
        "assert build(Path(sys.argv[1]), jobs=2).changed == 10\n"
        "print(seen)\n"
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


def test_a_template_change_renders_every_issue_again_but_validates_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.build import stages

    validated: list[int] = []
    real_load_issue = stages.load_issue

    def load_issue(config: object, number: int, *args: object) -> object:
        validated.append(number)
        return real_load_issue(config, number, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(stages, "load_issue", load_issue)
    root = _newsletter(tmp_path, 3)
    # A warning (vague link text) must survive in the model cache like in the full entries.
    issue = root / "issues/0002.yaml"
    issue.write_text(re.sub(r"\[the [^\]]*\]", "[click here]", issue.read_text(), count=1))
    first = build(root, jobs=1)
    warnings = [str(w) for w in first.warnings]
    assert sorted(validated) == [1, 2, 3] and any("click here" in w for w in warnings)

    validated.clear()
    (root / "templates").mkdir()
    (root / "templates" / "email.txt").write_text("{{ issue.title }} — custom\n")
    report = build(root, jobs=1)
    assert report.changed == 3 and validated == []  # every issue rendered again, none validated again
    assert [str(w) for w in report.warnings] == warnings
    assert (root / "site/issues/2/email.txt").read_text().endswith("— custom\n")

    # A damaged model is validated again, never used.
    for model in (root / CACHE_DIR / "models").iterdir():
        model.write_text("{not json")
    (root / "templates" / "email.txt").write_text("{{ issue.title }} — custom again\n")
    report = build(root, jobs=1)
    assert sorted(validated) == [1, 2, 3] and [str(w) for w in report.warnings] == warnings

    validated.clear()
    config = root / "config.yaml"
    config.write_text(config.read_text().replace("Bench Weekly", "Bench Monthly"))
    build(root, jobs=1)
    assert sorted(validated) == [1, 2, 3]  # validation reads config.yaml: it is part of the model's key
    assert_same_as_a_clean_build(root, tmp_path)


def test_a_corrupt_cache_is_detected_and_ignored(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 3)
    build(root)
    good = tree(root / "site")
    objects = root / CACHE_DIR / "objects"
    entries = sorted(e for e in objects.iterdir() if (e / "email.txt").exists())  # the issues' entries (the rest are web pages)
    assert len(entries) == 3
    # Damage one entry's rendered file (the site shares it via a hard link), and another's metadata.
    victim = entries[0] / "email.html"
    data = victim.read_bytes()
    victim.write_bytes(data.replace(b"Bench", b"Bxnch", 1))
    (entries[1] / "meta.json").write_text("{not json")
    report = build(root)
    assert report.changed == 2
    assert tree(root / "site") == good


def test_an_edited_site_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 3)
    build(root)
    good = tree(root / "site")
    (root / "site/index.html").write_text("defaced")
    (root / "site/extra.html").write_text("extra")
    build(root)
    assert tree(root / "site") == good


def test_cache_entries_are_json_not_pickle(tmp_path: Path) -> None:
    """A cache folder from elsewhere must never be able to run code on load: records are
    JSON; the only code kept is compiled templates, sealed (tests/test_data_loss.py)."""
    root = _newsletter(tmp_path, 1)
    build(root)
    cache = root / CACHE_DIR
    files = {p.name for p in cache.rglob("*") if p.is_file() and p.parent.name not in ("models", "templates")}
    assert files == {"email.html", "email.txt", "index.html", "content.html", "meta.json", "site.json", "index.json", "build.lock"}
    models = list((cache / "models").iterdir())
    assert len(models) == 1 and re.fullmatch(r"[0-9a-f]{64}\.json", models[0].name)
    for path in [*cache.rglob("*.json")]:
        json.loads(path.read_bytes())  # JSON through and through
    record = json.loads(models[0].read_bytes())
    assert set(record) == {"mac", "body"} and set(record["body"]) == {"issue", "warnings"}


def test_help_and_no_op_build_do_not_import_heavy_libraries(tmp_path: Path) -> None:
    root = _newsletter(tmp_path, 2)
    build(root)
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from digest.cli import main\n"
        "assert CliRunner().invoke(main, ['--help']).exit_code == 0\n"
        "after_help = set(sys.modules)\n"
        "r = CliRunner().invoke(main, ['build', '--root', sys.argv[1]])\n"
        "assert r.exit_code == 0 and '(0 changed)' in r.output, r.output\n"
        "heavy = {'premailer', 'feedgen', 'lxml', 'mjml', 'cssutils', 'markdown_it', 'jinja2', 'requests'}\n"
        "print(sorted({m.split('.')[0] for m in after_help} & heavy), sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"


def test_a_build_that_renders_uses_the_real_requests(tmp_path: Path) -> None:
    """No stand-in in sys.modules: premailer imports requests itself (it never uses it in a
    build: allow_network=False; tests/test_inline.py checks nothing is fetched), and only a
    build that renders an email imports premailer (the no-op test above)."""
    root = _newsletter(tmp_path, 2)
    code = (
        "import sys, types\n"
        "from pathlib import Path\n"
        "from digest.build.pipeline import build\n"
        "assert build(Path(sys.argv[1])).changed == 2\n"
        "import premailer.premailer, requests\n"
        "print(premailer.premailer.requests is requests, type(requests) is types.ModuleType, requests.__spec__ is not None)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["True True True"]


def _edit(root: Path, number: int, old: str, new: str) -> None:
    path = root / "issues" / f"{number:04d}.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_an_edit_build_reads_the_cached_issues_from_the_index_not_their_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.build import cache

    root = _newsletter(tmp_path, 6)
    build(root)
    read: list[str] = []
    real = cache.BuildCache._sections
    monkeypatch.setattr(cache.BuildCache, "_sections", lambda self, k: read.append(k) or real(self, k))
    entry_reads: list[str] = []
    real_unseal = cache.unseal
    monkeypatch.setattr(cache, "unseal", lambda key, kind, name, raw: entry_reads.append(kind) or real_unseal(key, kind, name, raw))
    _edit(root, 6, "Thanks for reading.", "Thanks for reading!")
    assert build(root).changed == 1
    assert read == []  # no cached issue's sections were needed
    # Only the new records, read back to index them: the edited issue's, its web page's and
    # that of the archive page that lists it.
    assert entry_reads.count("entry") == 1 and entry_reads.count("page") == 2
    assert_same_as_a_clean_build(root, tmp_path)


def test_a_template_that_reads_cached_issues_sections_gets_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.build import cache

    root = _newsletter(tmp_path, 6)
    archive = (Path(__file__).parent.parent / "digest/render/templates/archive.html").read_text()
    marker = '<time datetime="{{ issue.date.isoformat() }}">'
    assert marker in archive
    listing = "{% for s in issue.sections %}[{{ s.title }}: {% for i in s.items %}{{ i.title }}; {% endfor %}]{% endfor %}" + marker
    (root / "templates").mkdir()
    (root / "templates" / "archive.html").write_text(archive.replace(marker, listing))
    build(root)
    read: list[str] = []
    real = cache.BuildCache._sections
    monkeypatch.setattr(cache.BuildCache, "_sections", lambda self, k: read.append(k) or real(self, k))
    _edit(root, 6, "Thanks for reading.", "Thanks for reading!")
    assert build(root).changed == 1
    assert len(read) == 5  # every cached issue's sections, for the archive page that lists them
    assert_same_as_a_clean_build(root, tmp_path)


def test_a_cache_record_damaged_during_the_build_is_an_error_not_a_wrong_page(tmp_path: Path) -> None:
    from digest.build.cache import BuildCache
    from digest.core.errors import DigestError

    root = _newsletter(tmp_path, 2)
    build(root)
    cache = BuildCache(root)
    (k,) = [k for k, rec in cache.index().items() if "issue" in rec and rec["issue"]["number"] == 1]
    entry = cache.get(k)
    assert entry is not None
    (root / CACHE_DIR / "objects" / k / "meta.json").write_text("{}")
    with pytest.raises(DigestError) as e:
        entry.issue.items
    assert [str(p) for p in e.value.problems] == [f"{root / CACHE_DIR / 'objects' / k}: the build cache changed during the build: build again"]
    assert BuildCache(root).get(k) is None  # and the next build renders it again


def test_each_markdown_text_is_parsed_once_for_validation_and_rendering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import collections

    from markdown_it import MarkdownIt

    from digest.build.stages import context, read_sources, render_issue, validate_issue
    from digest.core import markdown
    from digest.core.config import load_config

    root = _newsletter(tmp_path, 1)
    assert hasattr(markdown._parse, "cache_clear")
    parses: collections.Counter[str] = collections.Counter()
    for name in ("parse", "parseInline"):
        real = getattr(MarkdownIt, name)
        monkeypatch.setattr(MarkdownIt, name, lambda self, src, env=None, _real=real: parses.update([src]) or _real(self, src, env))
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


def test_an_edit_renders_only_the_archive_page_that_lists_the_issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from digest.build import memo

    root = _newsletter(tmp_path, 65)  # three archive pages of 30
    build(root)
    rendered: list[str] = []
    real = memo.render_archive_page
    monkeypatch.setattr(memo, "render_archive_page", lambda ctx, page: rendered.append(page.path) or real(ctx, page))
    _edit(root, 2, "Thanks for reading.", "Thanks for reading!")
    assert build(root).changed == 1
    assert rendered == ["page/3/index.html"]
    assert_same_as_a_clean_build(root, tmp_path)
    _edit(root, 65, "title: \"Issue 65", "title: \"Issue sixty-five")
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


def test_a_build_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path) -> None:
    import gc
    import threading

    root = _newsletter(tmp_path, 2)
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    build(root)
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == (before, frozen, True)
    others = [tmp_path / f"other{i}" for i in range(3)]
    for other in others:
        make_newsletter(other, 2)
    threads = [threading.Thread(target=build, args=(other,)) for other in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == (before, frozen, True)


def test_an_entry_or_page_rendered_again_after_damage_is_indexed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged cached file makes its issue or page render again under the same key; the
    index must then hold the new record, or every later build would render it again."""
    from digest.build import cache, memo

    root = _newsletter(tmp_path, 4)
    build(root)
    objects = root / CACHE_DIR / "objects"
    index = json.loads((root / CACHE_DIR / "index.json").read_bytes())["body"]
    (entry,) = [objects / k for k, rec in index.items() if "issue" in rec and rec["issue"]["number"] == 2]
    page = next(e for e in objects.iterdir() if (e / "index.html").exists())
    for victim in (page / "index.html", entry / "email.txt"):
        data = victim.read_bytes()
        victim.unlink()  # the site shares the file through a hard link
        victim.write_bytes(data + b"damaged")
    _edit(root, 4, "Thanks for reading.", "Thanks for reading.\n  ")  # a build with work to do (a no-op only compares site/)
    assert build(root).changed == 2  # the edited issue and the damaged one
    rendered: list[str] = []
    real_page = memo.render_page
    monkeypatch.setattr(memo, "render_page", lambda *a: rendered.append("page") or real_page(*a))
    read: list[str] = []
    real_unseal = cache.unseal
    monkeypatch.setattr(cache, "unseal", lambda key, kind, name, raw: read.append(kind) or real_unseal(key, kind, name, raw))
    _edit(root, 4, "Thanks for reading.", "Thanks for reading!")
    assert build(root).changed == 1
    assert rendered == ["page"]  # the edited issue's own page only
    assert read.count("entry") == 1  # the edited issue's new record, read back to index it
    assert_same_as_a_clean_build(root, tmp_path)
