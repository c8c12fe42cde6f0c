"""The archive's search: Pagefind's index of the published issue pages, part of the site.

Rules:
- Only published issue pages are indexed, and of each only what the page marks with
  ``data-pagefind-body`` (the issue itself: never the navigation, the share links or the
  recent issues).  Each page's ``<html lang>`` chooses its index: one index per language.
- The index is split in bundles of a fixed range of issue numbers (CHUNK issues: issue n is in
  SEARCH_DIR/<n // CHUNK * CHUNK>/, each bundle with Pagefind's interface); the archive's one
  search box loads the first and merges the others into it (Pagefind's ``mergeIndex``).  A new
  or edited issue changes its own bundle only: the others are neither indexed nor written again.
- The bundles are written with the rest of the site, before the swap, as files digest wrote
  (digest.pipeline.publish).
- A bundle is made only when the pages it indexes changed: its key is made of Pagefind's
  version, the language, the range and every indexed page's issue key (what the indexed part
  of the page is made of: a neighbour's new title re-renders a page, not its bundle).  The current bundles are kept
  in the build cache (outside the newsletter) under their keys, so a build where only a draft
  changed, or nothing did, runs nothing and links the files it published before.
- Pagefind runs here, as the ``pagefind_bin`` wheel's binary (no download, no network), on a
  private temporary copy of the pages (outside the newsletter and the site).  Its output was
  byte-identical across runs and processes in every test here (tests/test_search.py,
  tests/test_output.py); the cache keeps a site stable even if a version were not.
- config.yaml's ``search: false`` turns all of it off.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from functools import lru_cache, partial
from pathlib import Path
from typing import NamedTuple

from digest.core.errors import DigestError, Problem
from digest.pipeline.cache import Pack, keep_only
from digest.pipeline.publish import Later, Output
from digest.render.archive import SEARCH_DIR

# Pagefind writes three interfaces and a highlighter; the archive uses its default one.
_UNUSED = ("pagefind-component-ui.", "pagefind-modular-ui.", "pagefind-highlight.", "playground/")
BUNDLES = "search"  # the bundles' folder in the build cache


@lru_cache(maxsize=1)
def pagefind_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pagefind_bin")
    except PackageNotFoundError:
        return "unknown"


def bundle_key(language: str, chunk: int, pages: Mapping[str, str]) -> str:
    """A bundle's key: Pagefind's version, the language, the range and each indexed page's path and key."""
    listed = "\0".join(f"{rel}\0{key}" for rel, key in sorted(pages.items()))
    return hashlib.sha256(f"search\0{pagefind_version()}\0{language}\0{chunk}\0{listed}".encode()).hexdigest()


def index(pages: Mapping[str, bytes]) -> dict[str, bytes]:
    """Pagefind's bundle for ``pages`` (site path → HTML), by path under SEARCH_DIR.

    The pages are written to a private temporary folder and Pagefind's command indexes it: its
    Python API (pagefind 1.5) reads one answer from the binary every 0.1 s, so adding 1,000
    pages through it took 100 s; the command indexes them in one run."""
    import subprocess
    import tempfile

    from pagefind.service import get_executable  # the [bin] extra's binary, or $PAGEFIND_BINARY_PATH

    binary = get_executable()
    with tempfile.TemporaryDirectory(prefix="digest-search-") as tmp:
        site, out = Path(tmp) / "site", Path(tmp) / "bundle"
        try:
            for rel, html in pages.items():
                (site / rel).parent.mkdir(parents=True, exist_ok=True)
                (site / rel).write_bytes(html)
        except OSError as e:  # a full disk: one message, the site unchanged
            why = (
                f"could not write the pages to index for the search ({e.strerror or e}); the previous site is unchanged"
            )
            raise DigestError([Problem(tempfile.gettempdir(), None, why)]) from e
        try:
            if binary is None:
                raise FileNotFoundError("its binary is not installed: pip install 'pagefind[bin]'")
            done = subprocess.run(
                [str(binary), "--site", str(site), "--output-path", str(out), "--silent"],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                check=False,
            )
            if done.returncode != 0:
                raise OSError(" ".join((done.stderr or done.stdout).split())[:300] or f"exit {done.returncode}")
            files = {
                path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()
            }
        except OSError as e:  # missing, not runnable or failing: one message, the site unchanged
            why = f"Pagefind could not index the archive ({e.strerror or e}); `search: false` builds without the search"
            raise DigestError([Problem("config.yaml", None, why, "search")]) from e
    return {rel: data for rel, data in sorted(files.items()) if not rel.startswith(_UNUSED)}


class Bundles:
    """The current bundles, in the build cache: each a Pack of its files by their paths in the bundle."""

    def __init__(self, cache_folder: Path) -> None:
        self.folder = cache_folder / BUNDLES

    def get(self, key: str) -> Pack | None:
        return Pack.load(self.folder / key)

    def put(self, key: str, files: Mapping[str, bytes]) -> None:
        Pack.write(self.folder / key, {}, files)

    def keep(self, keys: set[str]) -> None:
        keep_only(self.folder, keys)


class Indexed(NamedTuple):
    """A page the search indexes: the key of what is indexed of it, and the page."""

    key: str
    page: Later


Held = Callable[[str, str], bytes | None]  # (site path, key) → the bytes the live site holds for it, if it does


def search_files(
    language: str, chunks: Mapping[int, Mapping[str, Indexed]], bundles: Bundles | None, held: Held | None = None
) -> dict[str, Output]:
    """Every bundle's files by site path (``chunks``: the published issue pages by site path, by
    their range's first issue number; digest.render.archive.chunk_of)."""
    files: dict[str, Output] = {}
    keys = set()
    for chunk, pages in sorted(chunks.items()):
        if pages:
            key = bundle_key(language, chunk, {rel: page.key for rel, page in pages.items()})
            keys.add(key)
            files.update(_bundle(f"{SEARCH_DIR}/{chunk}", key, pages, bundles, held))
    if bundles is not None:
        bundles.keep(keys)
    return files


def _bundle(
    where: str, key: str, pages: Mapping[str, Indexed], bundles: Bundles | None, held: Held | None
) -> dict[str, Output]:
    """One bundle's files under ``where``: for a bundle the cache holds, each a Later (made only if
    the site does not hold it already); else indexed now.  ``pages``: its issue pages; those the
    live site already holds (``held``) are read from it, not made again."""
    pack = bundles.get(key) if bundles is not None else None

    def page_bytes(rel: str, indexed: Indexed) -> bytes:
        found = held(rel, indexed.page.key) if held is not None else None
        return found if found is not None else indexed.page.make()

    if bundles is None or pack is None:
        made = index({rel: page_bytes(rel, page) for rel, page in pages.items()})
        if bundles is not None:
            bundles.put(key, made)
        return {f"{where}/{rel}": data for rel, data in made.items()}

    def cached(rel: str) -> bytes:
        data = pack.read(rel)
        if data is None:  # gone or damaged since: made again (Pagefind's output is deterministic)
            data = index({path: page_bytes(path, page) for path, page in pages.items()})[rel]
        return data

    return {
        # Keyed by the SHA-256 of their bytes, as publish keys the bytes of a bundle indexed just now.
        f"{where}/{rel}": Later(digest, partial(cached, rel))
        for rel, (_, _, digest) in sorted(pack.at.items())
    }
