"""The build cache as a memo around the two per-issue stages.

``Memo.one_pass`` is what a worker runs for an issue the cache does not hold: validate it
(or take its validated model from the cache), render it, store both; one task, one
process, so the YAML and each markdown text are parsed once.  The stages themselves
(digest.build.stages) know nothing of it.

Keys are content only:
- an issue's rendered files: its file's name and bytes, config.yaml, every template and
  digest's own code;
- its validated model: the same without the templates (validation never reads them), so
  a template change re-renders every issue but validates none again;
- its web page: its rendered files' key and its neighbours (what the page shows of other
  issues), so that publishing or retitling an issue makes only the pages that show it
  again, and never renders an issue again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from digest import __version__
from digest.build.cache import CACHE_DIR, COMPILED, BuildCache, Stored
from digest.build.stages import Checked, Context, Source, render_archive_page, render_issue, render_page, validate_issue
from digest.core.errors import Problem

if TYPE_CHECKING:
    from digest.render.archive import ArchivePage, Neighbours

FORMAT = 4  # of the cache's records: a new format is a new key for everything


@dataclass(frozen=True)
class Keys:
    model: str
    render: str


@dataclass(frozen=True)
class Done:
    """One issue through both stages, from the cache or rendered just now."""

    number: int
    checked: Checked
    content: str | Stored = ""  # the HTML fragment for the web page and the feeds (in the cache: read only when needed)
    clip: Problem | None = None
    files: dict[str, Stored] | None = None  # the outputs as stored in the cache
    outputs: dict[str, bytes] | None = None  # the outputs themselves, when not stored
    fresh: bool = True  # rendered in this build


def content_text(content: str | Stored) -> str:
    """An issue's HTML fragment: rendered just now, or read from the cache."""
    return content if isinstance(content, str) else content.path.read_bytes().decode("utf-8")


class Contents(Mapping[int, str]):
    """Each issue's feed fragment by number; a cached one is read when a feed asks for it."""

    def __init__(self, done: list[Done]) -> None:
        self._done = {d.number: d.content for d in done}

    def __getitem__(self, number: int) -> str:
        return content_text(self._done[number])

    def __iter__(self) -> Iterator[int]:
        return iter(self._done)

    def __len__(self) -> int:
        return len(self._done)


@lru_cache(maxsize=1)
def code_state() -> bytes:
    """digest's own code and version: an upgrade is a new key for everything."""
    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256(f"digest {__version__} cache {FORMAT}\n".encode())
    for path in sorted(package.rglob("*.py")):
        h.update(f"\0{path.relative_to(package).as_posix()}\0".encode())
        h.update(path.read_bytes())
    return h.digest()


def _salts(ctx: Context) -> tuple[bytes, bytes]:
    """What every model key (digest's code, config.yaml) and every render key (those and the templates) covers."""
    try:
        config = (ctx.config.root / "config.yaml").read_bytes()
    except OSError:
        config = b"<unreadable>"
    model = hashlib.sha256(b"model\0" + code_state() + hashlib.sha256(config).digest()).digest()
    return model, hashlib.sha256(b"render\0" + ctx.templates + model).digest()


def keys(ctx: Context, sources: list[Source]) -> dict[int, Keys]:
    model, render = _salts(ctx)
    found = {}
    for src in sources:
        file = hashlib.sha256(src.rel.encode() + b"\0" + src.data).digest()  # each file's bytes hashed once
        found[src.number] = Keys(hashlib.sha256(model + file).hexdigest(), hashlib.sha256(render + file).hexdigest())
    return found


def page_key(k: Keys, near: Neighbours) -> str:
    """An issue's web page is a function of its rendered files' key and its neighbours
    (plain frozen values: their repr is their content)."""
    return hashlib.sha256(f"page\0{k.render}\0{near!r}".encode()).hexdigest()


def archive_key(salt: bytes, page: ArchivePage, all_keys: dict[int, Keys]) -> str:
    """An archive page is a function of config, the templates (``salt``), its place and its
    issues (their render keys: a template may show anything of them)."""
    listed = "\0".join(all_keys[i.number].render for i in page.issues)
    return hashlib.sha256(b"archive\0" + salt + f"{page.path}\0{page.page}\0{page.pages}\0{listed}".encode()).hexdigest()


def site_key(ctx: Context, all_keys: dict[int, Keys]) -> str:
    """The whole site is a function of config, the templates and its issues' keys."""
    return hashlib.sha256(_salts(ctx)[1] + "\n".join(k.render for _, k in sorted(all_keys.items())).encode()).hexdigest()


@dataclass(frozen=True)
class Memo:
    """Where the memo lives and how it is used; small and picklable, so workers get it."""

    root: Path
    store: bool  # digest check only reads the cache
    verify: bool = False  # check cached files by their bytes, not by their recorded stat

    @property
    def work(self) -> Path:
        return self.root / CACHE_DIR

    @property
    def compiled(self) -> Path:
        """Where compiled templates are kept (digest.build.compiled)."""
        return self.work / COMPILED

    def cache(self) -> BuildCache:
        """Opened afresh for each use: it checks the cache folder for links each time."""
        return BuildCache(self.root, verify=self.verify)

    def lookup(self, sources: list[Source], keys: dict[int, Keys]) -> dict[int, Done]:
        """The issues the cache holds whole (model and rendered files), by number."""
        cache = self.cache()
        found = {}
        for src in sources:
            if (entry := cache.get(keys[src.number].render)) is not None:
                found[src.number] = Done(src.number, Checked(src.rel, entry.issue, entry.warnings), entry.content, None, entry.files, fresh=False)
        return found

    def one_pass(self, job: tuple[Context, Source, Keys]) -> Done:
        """Validate (unless the model is cached) and render one issue, and store both."""
        ctx, src, k = job
        cache = self.cache()
        model = cache.get_model(k.model)
        checked = Checked(src.rel, *model) if model is not None else validate_issue(ctx, src)
        if not checked.ok or checked.issue is None:
            return Done(src.number, checked)
        if model is None and self.store:
            cache.put_model(k.model, checked.issue, checked.problems)
        rendered = render_issue(ctx, checked.issue)
        clip = rendered.clip
        if self.store:
            warnings = (*checked.problems, *([clip] if clip else []))
            entry = cache.put(k.render, checked.issue, warnings, rendered.content, rendered.files)
            if entry is not None:
                return Done(src.number, checked, rendered.content, clip, entry.files)
        return Done(src.number, checked, rendered.content, clip, outputs=rendered.files)

    def pages(self, ctx: Context, todo: Iterable[tuple[Done, Keys, Neighbours]]) -> Iterator[tuple[str, Stored | bytes]]:
        """Each issue's web page (its page key, and the stored file or its bytes): from the
        cache if its content and neighbours are unchanged, else rendered (and stored).
        One opened cache for the lot: opening checks the cache folder for links, a
        thousand times over for a thousand pages otherwise."""
        cache = self.cache()
        for done, k, near in todo:
            issue = done.checked.issue
            assert issue is not None
            content = done.content
            key = page_key(k, near)
            yield key, self._page(cache, key, lambda: render_page(ctx, issue, content_text(content), near))

    def archive(self, ctx: Context, pages: Iterable[ArchivePage], all_keys: dict[int, Keys]) -> Iterator[tuple[str, Stored | bytes]]:
        """Each archive page (its key, and the stored file or its bytes): from the cache if
        its issues are unchanged, else rendered (and stored)."""
        cache, salt = self.cache(), _salts(ctx)[1]
        for page in pages:
            key = archive_key(salt, page, all_keys)
            yield key, self._page(cache, key, lambda: render_archive_page(ctx, page))

    def _page(self, cache: BuildCache, key: str, render: Callable[[], bytes]) -> Stored | bytes:
        if (hit := cache.get_page(key)) is not None:
            return hit
        page = render()
        stored = cache.put_page(key, page) if self.store else None
        return stored if stored is not None else page

    def finish(self, all_keys: dict[int, Keys], pages: Iterable[str] = ()) -> None:
        """After a build: remove every entry but the current issues' and pages' (``pages``:
        their page keys), and index those for the next build."""
        cache, entries, pages = self.cache(), [k.render for k in all_keys.values()], list(pages)
        cache.prune(set(entries) | set(pages), {k.model for k in all_keys.values()})
        cache.write_index(entries, pages)

