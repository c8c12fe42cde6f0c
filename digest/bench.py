"""The project's benchmark: ``python -m digest.bench [--sizes 100,1000]``.

It generates synthetic newsletters (N issues of 20 items in 3 sections, markdown
summaries) in a temporary folder and reports, in one run on one machine:
full build time for each N, per-issue marginal cost, linearity, time per pipeline
stage, a no-op rebuild, a rebuild after adding one issue, peak memory, and — when
Node.js and npm are available — the MJML reference implementation's time for one
generated issue (median of 30), side by side.  Each build figure is the median of
``--repeat`` builds (default 3), each in a fresh process; memory is the highest peak of
them.  It is a tool, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.core.models import Config, Issue

WORDS = (
    "open data civic budget transparency council archive rights privacy audit survey "
    "assembly library budget climate housing transit water election census map radio"
).split()


def _words(seed: int, n: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 13) % len(WORDS)] for i in range(n))


def issue_yaml(number: int, date: dt.date) -> str:
    lines = [f"number: {number}", f"date: {date.isoformat()}", f"title: \"Issue {number}: {_words(number, 4)}\""]
    lines += ["intro: |", f"  This week: *{_words(number + 1, 6)}* and [the {_words(number + 2, 2)} roundup](https://example.org/{number}/intro)."]
    lines.append("sections:")
    item = 0
    for s in range(3):
        lines += [f"  - title: Section {s + 1} {_words(number + s, 2)}", "    items:"]
        for _ in range(7 if s < 2 else 6):
            item += 1
            seed = number * 31 + item
            lines += [
                f"      - title: {_words(seed, 6).capitalize()} ({number}.{item})",
                f"        url: https://news.example.com/{number}/{item}",
                f"        source: Source {seed % 17}",
                f"        author: Author {seed % 23}",
                "        summary: |",
                f"          {_words(seed, 18).capitalize()}, with **{_words(seed + 1, 2)}** and a",
                f"          [the {_words(seed + 4, 2)} story](https://example.net/{number}/{item}) to `{_words(seed + 2, 1)}`. {_words(seed + 3, 20)}.",
            ]
    lines += ["outro: |", "  Thanks for reading. Reply to this email with tips."]
    return "\n".join(lines) + "\n"


CONFIG = """\
title: Bench Weekly
url: https://bench.example.org/
language: en
timezone: Europe/Berlin
author: {name: Bench Editor, email: editor@bench.example.org}
email: {from: "Bench <news@bench.example.org>", unsubscribe_url: "{{ UnsubscribeURL }}"}
"""


def make_newsletter(root: Path, n: int) -> None:
    (root / "issues").mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    start = dt.date(2010, 1, 1)
    for number in range(1, n + 1):
        add_issue(root, number, start)


def add_issue(root: Path, number: int, start: dt.date = dt.date(2010, 1, 1)) -> None:
    date = start + dt.timedelta(days=7 * (number - 1))
    (root / "issues" / f"{number:04d}.yaml").write_text(issue_yaml(number, date), encoding="utf-8")


def timed_build(root: Path, *extra: str) -> dict[str, float]:
    """One `digest build` in a fresh process: wall seconds and peak RSS (MiB) of it and its workers."""
    code = (
        "import resource, sys, time; from pathlib import Path; from digest.build.pipeline import build;"
        "t = time.perf_counter(); r = build(Path(sys.argv[1]), **eval(sys.argv[2])); t = time.perf_counter() - t;"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
        "print(t, own / 1024, kids / 1024, r.changed)"
    )
    kwargs = dict(arg.split("=", 1) for arg in extra)
    out = subprocess.run([sys.executable, "-c", code, str(root), repr({k: eval(v) for k, v in kwargs.items()})],
                         capture_output=True, text=True, check=True)
    seconds, own, kids, changed = out.stdout.split()
    return {"seconds": float(seconds), "rss_mib": float(own), "worker_rss_mib": float(kids), "changed": int(changed)}


def median_build(root: Path, repeat: int, before: Callable[[int], None]) -> dict[str, float]:
    """``repeat`` builds, each after ``before(i)``: the median time, and the highest peak memory of any."""
    runs = []
    for i in range(repeat):
        before(i)
        runs.append(timed_build(root))
    runs.sort(key=lambda r: r["seconds"])
    median = dict(runs[len(runs) // 2])
    median["rss_mib"] = max(r["rss_mib"] for r in runs)
    median["worker_rss_mib"] = max(r["worker_rss_mib"] for r in runs)
    median["runs_s"] = [round(r["seconds"], 3) for r in runs]  # type: ignore[assignment]
    return median


def _from_scratch_each(root: Path, _run: int) -> None:
    shutil.rmtree(root / "site", ignore_errors=True)
    shutil.rmtree(root / ".digest-cache", ignore_errors=True)


def stage_times(root: Path, sample: int = 20) -> dict[str, float]:
    """Milliseconds per issue for each pipeline stage, measured in this process on ``sample`` issues.

    Templates call the markdown filters, so each issue is rendered twice: the first time
    with its markdown not yet converted (what a build does), the second with it already
    converted, which times Jinja2 alone; markdown is the difference.
    """
    from digest.render import feeds
    from digest.render import html as render
    from digest.render import text
    from digest.build.pipeline import published
    from digest.core.config import load_config

    config = load_config(root)
    t = time.perf_counter()
    issues = _load(config)
    load_ms = (time.perf_counter() - t) * 1000 / len(issues)
    env = render.make_env(config)
    chosen = issues[-sample:]
    render.render_email(env, config, issues[0])  # warm caches and imports
    text.render_text(env, config, issues[0])

    def templates(issue: Issue) -> tuple[str, float]:
        t = time.perf_counter()
        mjml_src = render.email_mjml(env, config, issue)
        render.render_web(env, config, issue)
        text.render_text(env, config, issue)
        render.render_content(env, config, issue)
        return mjml_src, time.perf_counter() - t

    totals = {"markdown": 0.0, "jinja": 0.0, "mjml": 0.0, "premailer": 0.0}
    for issue in chosen:
        mjml_src, cold = templates(issue)
        warm = templates(issue)[1]
        t0 = time.perf_counter()
        html = render.mjml_to_html(mjml_src)
        t1 = time.perf_counter()
        render.finish_email(render.inline_css(html), config)
        t2 = time.perf_counter()
        totals["markdown"] += cold - warm
        totals["jinja"] += warm
        totals["mjml"] += t1 - t0
        totals["premailer"] += t2 - t1
    per = {"load+validate": load_ms, **{k: v * 1000 / len(chosen) for k, v in totals.items()}}
    newest = published(issues)[: config.feed_items]
    contents = {i.number: render.render_content(env, config, i) for i in newest}
    t = time.perf_counter()
    files = feeds.render_feeds(config, newest, contents)
    per["feeds (whole site)"] = (time.perf_counter() - t) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        data = render.render_email(env, config, chosen[0]).encode()
        t = time.perf_counter()
        for i in range(200):
            p = Path(tmp, str(i), "email.html")
            p.parent.mkdir()
            p.write_bytes(data)
        per["write one file"] = (time.perf_counter() - t) * 1000 / 200
    per["email bytes"] = float(len(render.render_email(env, config, chosen[0]).encode()))
    del files
    return per


def _load(config: Config) -> list[Issue]:
    from digest.build.pipeline import read_sources
    from digest.build.cache import salts
    from digest.core.issues import load_issue

    issues = []
    for s in read_sources(config, *salts(config.root)):
        issue, problems = load_issue(config, s.number, s.path, s.rel, s.data)
        assert issue is not None, problems
        issues.append(issue)
    return issues


NODE_SCRIPT = """
const mjml2html = require('mjml');
const fs = require('fs');
const src = fs.readFileSync(process.argv[2], 'utf8');
for (let i = 0; i < 3; i++) mjml2html(src, {validationLevel: 'skip'});
const times = [];
for (let i = 0; i < 30; i++) {
  const t = process.hrtime.bigint();
  mjml2html(src, {validationLevel: 'skip'});
  times.push(Number(process.hrtime.bigint() - t) / 1e6);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({median_ms: (times[14] + times[15]) / 2, version: require('mjml/package.json').version}));
"""


def node_reference(root: Path, workdir: Path) -> dict[str, Any] | None:
    """The Node MJML reference's median time for one generated issue's MJML, or None without Node."""
    if not (shutil.which("node") and shutil.which("npm")):
        return None
    from digest.render import html as render
    from digest.core.config import load_config

    config = load_config(root)
    issues = _load(config)
    env = render.make_env(config)
    src = workdir / "issue.mjml"
    src.write_text(render.email_mjml(env, config, issues[0]), encoding="utf-8")
    node_dir = workdir / "node"
    node_dir.mkdir()
    install = subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "mjml@5"], cwd=node_dir, capture_output=True, text=True)
    if install.returncode != 0:
        return {"error": install.stderr.strip()[-300:]}
    (node_dir / "bench.js").write_text(NODE_SCRIPT)
    out = subprocess.run(["node", "bench.js", str(src)], cwd=node_dir, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-300:]}
    result = json.loads(out.stdout)
    # Our own MJML stage on the same input, for the side-by-side figure.
    times = []
    text_src = src.read_text(encoding="utf-8")
    render.mjml_to_html(text_src)
    for _ in range(30):
        t = time.perf_counter()
        render.mjml_to_html(text_src)
        times.append((time.perf_counter() - t) * 1000)
    result["mjml_python_median_ms"] = statistics.median(times)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m digest.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated issue counts (default 100,1000)")
    parser.add_argument("--no-node", action="store_true", help="skip the Node MJML reference")
    parser.add_argument("--repeat", type=int, default=3, help="builds per figure, the median reported (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[str, object] = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}", "repeat": args.repeat}
    print(f"each figure is the median of {args.repeat} builds", flush=True)
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        base = Path(tmp)
        full: dict[int, dict[str, float]] = {}
        for n in sizes:
            root = base / f"n{n}"
            make_newsletter(root, n)
            full[n] = median_build(root, args.repeat, functools.partial(_from_scratch_each, root))
            print(f"full build, {n:>5} issues: {full[n]['seconds']:7.2f} s   peak RSS {full[n]['rss_mib']:.0f} MiB (workers {full[n]['worker_rss_mib']:.0f} MiB)", flush=True)
        results["full"] = full
        small, big = min(sizes), max(sizes)
        if big != small:
            ratio = full[big]["seconds"] / full[small]["seconds"]
            marginal = (full[big]["seconds"] - full[small]["seconds"]) / (big - small) * 1000
            mem = (full[big]["rss_mib"] + full[big]["worker_rss_mib"]) / (full[small]["rss_mib"] + full[small]["worker_rss_mib"])
            results.update(ratio=ratio, marginal_ms=marginal, memory_ratio=mem)
            print(f"build({big}) / build({small}) = {ratio:.2f}   (target <= {big / small * 1.05:.1f})")
            print(f"per-issue marginal cost: {marginal:.2f} ms")
            print(f"peak memory ratio ({big} vs {small}, main + largest worker): {mem:.2f}   (target <= 2)")
        root = base / f"n{big}"
        noop = median_build(root, args.repeat, lambda _: None)
        print(f"no-op rebuild, {big} issues: {noop['seconds']:.2f} s = {noop['seconds'] / full[big]['seconds']:.1%} of a full build (target <= 5%)")
        plus = median_build(root, args.repeat, lambda i: add_issue(root, big + 1 + i))
        print(f"rebuild after adding one issue: {plus['seconds']:.2f} s = {plus['seconds'] / full[big]['seconds']:.1%} of a full build (target <= 10%)")
        results.update(noop=noop, add_one=plus)
        from digest.preview.bench import preview_latency  # the preview's own figures: digest/preview/bench.py

        results["preview"] = preview_latency({n: base / f"n{n}" for n in sizes})
        stages = stage_times(base / f"n{small}")
        results["stages_ms"] = stages
        print("per issue, one process: " + ", ".join(f"{k} {v:.2f} ms" for k, v in stages.items() if k != "email bytes"))
        print(f"email.html for a 20-item issue: {stages['email bytes'] / 1024:.1f} KiB (Gmail clips at 102 KiB)")
        if not args.no_node:
            node = node_reference(base / f"n{small}", base)
            results["node_mjml"] = node
            if node is None:
                print("Node MJML reference: skipped (node/npm not found)")
            elif "error" in node:
                print(f"Node MJML reference: failed: {node['error']}")
            else:
                print(f"Node mjml {node['version']}: {node['median_ms']:.2f} ms per issue (median of 30); "
                      f"mjml-python: {node['mjml_python_median_ms']:.2f} ms")
                if "marginal_ms" in results:
                    print(f"our whole per-issue marginal cost / Node MJML alone = {results['marginal_ms'] / node['median_ms']:.2f} (target <= 0.5)")
                # The design's fixed stages alone, spread perfectly over every core with
                # everything else free: no build can have a smaller marginal cost.
                fixed = stages["jinja"] + stages["mjml"] + stages["premailer"]
                floor = fixed / (os.cpu_count() or 1)
                results["design_floor_ms"] = floor
                print(f"Jinja2 + MJML + premailer alone: {fixed:.2f} ms per issue in one process; over {os.cpu_count()} cores "
                      f"at best {floor:.2f} ms = {floor / node['median_ms']:.2f} of Node MJML")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
