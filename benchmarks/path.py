"""Which of digest's modules and functions one issue crosses on its way from YAML to email.html.

``python -m benchmarks.path [ROOT]`` (default: this repository's example newsletter): builds
ROOT's newest issue alone into a temporary newsletter with a cold cache, in this process
(``jobs=1``), and lists every digest module whose functions ran, with how many functions.
Recording starts when the issue's own work starts (make_issue: validate, then render) and
stops once email.html is made: config.yaml's loading (once per build, not per issue), the
cache keys, the issue's web page, the archive and the feeds are not counted.

It also prints the size of the engine's infrastructure (infrastructure_lines()): the lines
of the modules that exist for caching, publishing and guarding the output, and of the
process pool in build.py; issue 18 counts them (about 1,290 before it, target <= 600).
"""

from __future__ import annotations

import ast
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from types import FrameType
from typing import Any


def trace(root: Path) -> dict[str, set[str]]:
    from digest.core.config import load_config
    from digest.pipeline import build as pipeline
    from digest.render import html

    seen: dict[str, set[str]] = defaultdict(set)
    recording = [False]
    real, real_make = html.render_email, pipeline.make_issue

    def render_email(*args: Any, **kwargs: Any) -> str:
        try:
            return real(*args, **kwargs)
        finally:
            recording[0] = False

    def make_issue(*args: Any, **kwargs: Any) -> Any:
        recording[0] = True
        return real_make(*args, **kwargs)

    def hook(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call" and recording[0]:
            module = frame.f_globals.get("__name__", "")
            if module.startswith("digest"):
                seen[module].add(frame.f_code.co_name)

    # Our own modules, wrapped for the measurement: not a switch in the product.
    html.render_email, pipeline.make_issue = render_email, make_issue
    sys.setprofile(hook)
    try:
        pipeline.build(load_config(root), jobs=1)
    finally:
        sys.setprofile(None)
        html.render_email, pipeline.make_issue = real, real_make
    return seen


PACKAGE = Path(__file__).resolve().parent.parent / "digest"
INFRASTRUCTURE = ("pipeline/cache.py", "pipeline/publish.py", "pipeline/output.py")  # whole modules
POOL = ("pipeline/build.py", ("POOL_THRESHOLD", "_map", "_die_with_parent"))  # the pool's part


def infrastructure_lines(package: Path = PACKAGE) -> dict[str, int]:
    """Lines (as ``wc -l`` counts them, docstrings and comments included) of each infrastructure
    module, and of the definitions that make build.py's process pool."""
    counts = {name: len((package / name).read_text(encoding="utf-8").splitlines()) for name in INFRASTRUCTURE}
    module, names = POOL
    tree = ast.parse((package / module).read_text(encoding="utf-8"))
    pool, found = 0, set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.Assign) and (name := _defines(node, names)):
            assert node.end_lineno is not None
            pool += node.end_lineno - node.lineno + 1
            found.add(name)
    if missing := set(names) - found:  # renamed or moved: the count would silently shrink
        raise LookupError(f"{module} defines no {', '.join(sorted(missing))}: update benchmarks.path.POOL")
    counts[f"{module} (the process pool: {', '.join(names)})"] = pool
    return counts


def _defines(node: ast.FunctionDef | ast.Assign, names: tuple[str, ...]) -> str | None:
    """The name of ``names`` that ``node`` defines, if any."""
    if isinstance(node, ast.FunctionDef):
        defined = [node.name]
    else:
        defined = [t.id for t in node.targets if isinstance(t, ast.Name)]
    return next((name for name in defined if name in names), None)


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="digest-path-") as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # a cold cache
        root = Path(tmp) / "news"
        (root / "issues").mkdir(parents=True)
        shutil.copy2(source / "config.yaml", root)
        newest = sorted((source / "issues").glob("*.yaml"))[-1]
        shutil.copy2(newest, root / "issues")
        seen = trace(root)
    for module in sorted(seen):
        print(f"{module:32} {len(seen[module]):3}  {', '.join(sorted(seen[module]))[:150]}")
    lines = infrastructure_lines()
    for name, count in lines.items():
        print(f"infrastructure: {name}: {count} lines")
    print(f"infrastructure: {sum(lines.values())} lines")
    print(f"{len(seen)} modules, {sum(len(f) for f in seen.values())} functions")


if __name__ == "__main__":
    main()
