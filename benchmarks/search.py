"""What the archive's search costs: Pagefind indexing a built site's published issue pages,
as a build does when they changed (digest.pipeline.search.index).  Part of
``python -m benchmarks.bench`` (the synthetic site, and the corpus with ``--corpus``), or alone
``python -m benchmarks.search SITE`` (SITE: a built site/ folder).  It reads the site and
writes nothing into it.

CPU is this process's and Pagefind's (a child process): user + system.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(site: Path, repeat: int = 3) -> dict[str, Any]:
    """Index ``site``'s issue pages ``repeat`` times: medians of wall and CPU seconds, the bundle's size."""
    from digest.pipeline.search import index

    pages = {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.glob("issues/*/index.html"))}
    walls, cpus = [], []
    bundle: dict[str, bytes] = {}
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu()
        bundle = index(pages)
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
    return {
        "pages": len(pages),
        "page_bytes": sum(map(len, pages.values())),
        "files": len(bundle),
        "bundle_bytes": sum(map(len, bundle.values())),
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
    }


def report(site: Path, what: str, repeat: int = 3) -> dict[str, Any]:
    r = measure(site, repeat)
    print(
        f"search index ({what}): {r['pages']:,} pages ({r['page_bytes'] / 1e6:.1f} MB) in {r['wall_s']:.2f} s wall,"
        f" {r['cpu_s']:.2f} s CPU (median of {repeat}); bundle {r['files']:,} files, {r['bundle_bytes'] / 1e6:.2f} MB",
        flush=True,
    )
    return r


if __name__ == "__main__":
    report(Path(sys.argv[1]), sys.argv[1])
