"""The project's benchmark: ``python -m benchmarks.bench [--issues 1000] [--corpus DIR]``.

It generates a synthetic newsletter (N issues of 20 items in 3 sections, markdown
summaries of varied text: no two alike) in a temporary folder and measures, in one run
on one machine, the ratios issue 8 sets targets for: editing one issue and a no-op
rebuild against a full build, our full build against the peer pipeline on the same
content (Pelican for the pages, Node's MJML 5 and juice for the emails; installed into
the temporary folder, and reported as not measured when they cannot be), and our CPU
per issue against the design's fixed stages (Jinja2, MRML, premailer).  ``--corpus DIR``
also builds a real newsletter folder.  Each build figure is the median of ``--repeat``
rounds (default 3) of full, no-op and edit builds, each in a fresh process.  It is a
tool, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.core.models import Config, Issue

WORDS = (
    "open data civic budget transparency council archive rights privacy audit survey assembly library "
    "climate housing transit water election census map radio report court ruling policy ministry grant "
    "school health clinic vaccine research study network protocol release kernel compiler security patch "
    "community volunteer meeting festival museum market price energy solar wind grid river forest farm "
    "journal interview podcast video release notes tutorial guide benchmark crate library async trait "
    "memory safety borrow checker macro module testing fuzzing deployment server browser mobile design "
    "language translation editor reader subscriber newsletter campaign petition lawsuit hearing budget"
).split()


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _summary(rng: random.Random, number: int, item: int) -> list[str]:
    """A summary of varied length and markup: no two items share one (as in a real archive)."""
    parts = [f"{_words(rng, rng.randint(8, 24)).capitalize()}, with **{_words(rng, 2)}** and a"]
    parts.append(f"[{_words(rng, rng.randint(2, 5))}](https://example.net/{number}/{item}/{rng.randint(1, 10**6)}) to `{rng.choice(WORDS)}`.")
    for _ in range(rng.randint(0, 3)):
        parts.append(f"{_words(rng, rng.randint(6, 30)).capitalize()}{rng.choice(['.', '!', '?', ' —', ';'])}")
    if rng.random() < 0.3:
        parts.append(f"*{_words(rng, rng.randint(2, 6))}* ({rng.randint(1, 999)} {rng.choice(WORDS)}s).")
    return parts


def issue_yaml(number: int, date: dt.date) -> str:
    rng = random.Random(number)
    lines = [f"number: {number}", f"date: {date.isoformat()}", f"title: \"Issue {number}: {_words(rng, 4)}\""]
    lines += ["intro: |", f"  This week: *{_words(rng, 6)}* and [the {_words(rng, 2)} roundup](https://example.org/{number}/intro)."]
    lines.append("sections:")
    item = 0
    for s in range(3):
        lines += [f"  - title: Section {s + 1} {_words(rng, 2)}", "    items:"]
        for _ in range(7 if s < 2 else 6):
            item += 1
            lines += [
                f"      - title: {_words(rng, rng.randint(3, 10)).capitalize()} ({number}.{item})",
                f"        url: https://news.example.com/{number}/{item}",
                f"        source: Source {rng.randint(1, 40)}",
                f"        author: Author {rng.randint(1, 90)}",
                "        summary: |",
                *(f"          {line}" for line in _summary(rng, number, item)),
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
    """One `digest build` in a fresh process: wall and CPU seconds (it and its workers), peak RSS (MiB)."""
    code = (
        "import resource, sys, time; from pathlib import Path; from digest.pipeline.build import build; from digest.core.config import load_config;"
        "t = time.perf_counter(); r = build(Path(sys.argv[1]), **eval(sys.argv[2])); t = time.perf_counter() - t;"
        "own = resource.getrusage(resource.RUSAGE_SELF); kids = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime;"
        "print(t, cpu, own.ru_maxrss / 1024, kids.ru_maxrss / 1024, r.changed)"
    )
    kwargs = dict(arg.split("=", 1) for arg in extra)
    out = subprocess.run([sys.executable, "-c", code, str(root), repr({k: eval(v) for k, v in kwargs.items()})],
                         capture_output=True, text=True, check=True)
    seconds, cpu, own, kids, changed = out.stdout.split()
    return {"seconds": float(seconds), "cpu": float(cpu), "rss_mib": float(own), "worker_rss_mib": float(kids), "changed": int(changed)}


def build_rounds(root: Path, repeat: int) -> dict[str, Any]:
    """``repeat`` rounds of: a full build from scratch, a no-op rebuild, a first edit (which
    also fills the spare site, once after every full build) and an edit, each in a fresh
    process.  Rounds, not one phase per kind of build: on these shared machines the speed
    drifts by a quarter within minutes, and the ratios compare builds made minutes apart
    otherwise.  Each figure is its median over the rounds; each ratio the median of the
    rounds' ratios."""
    runs: dict[str, list[dict[str, float]]] = {"full": [], "noop": [], "first_edit": [], "edit": []}
    for i in range(repeat):
        _from_scratch_each(root, i)
        runs["full"].append(timed_build(root))
        runs["noop"].append(timed_build(root))
        _edit_newest(root, 2 * i)
        runs["first_edit"].append(timed_build(root))
        _edit_newest(root, 2 * i + 1)
        runs["edit"].append(timed_build(root))
    out: dict[str, Any] = {name: _summary_of(r) for name, r in runs.items()}
    for name, kind in (("edit_cpu", "edit"), ("noop_cpu", "noop")):
        out[f"{name}_ratio"] = statistics.median(e["cpu"] / f["cpu"] for e, f in zip(runs[kind], runs["full"], strict=True))
    out["edit_wall_ratio"] = statistics.median(e["seconds"] / f["seconds"] for e, f in zip(runs["edit"], runs["full"], strict=True))
    return out


def _summary_of(runs: list[dict[str, float]]) -> dict[str, Any]:
    median = dict(sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2])
    median["cpu"] = statistics.median(r["cpu"] for r in runs)
    median["rss_mib"] = max(r["rss_mib"] for r in runs)
    median["worker_rss_mib"] = max(r["worker_rss_mib"] for r in runs)
    median["runs_s"] = [round(r["seconds"], 3) for r in runs]  # type: ignore[assignment]
    median["runs_cpu"] = [round(r["cpu"], 3) for r in runs]  # type: ignore[assignment]
    return median


def _from_scratch_each(root: Path, _run: int) -> None:
    shutil.rmtree(root / "site", ignore_errors=True)
    shutil.rmtree(root / ".digest-cache", ignore_errors=True)


def _edit_newest(root: Path, run: int) -> None:
    """Edit the newest issue, as an editor fixing this week's does (it is in the feeds too)."""
    newest = sorted((root / "issues").glob("*.yaml"))[-1]
    newest.write_text(newest.read_text(encoding="utf-8") + f"# edited ({run})\n", encoding="utf-8")


def stage_times(root: Path, sample: int = 20) -> dict[str, float]:
    """CPU milliseconds per issue for each pipeline stage, measured in this process on ``sample``
    issues (CPU time, like the builds' figures it is compared with: on a loaded machine a
    wall-clock stage time counts other processes' work too).

    Templates call the markdown filters, so each issue is rendered twice: the first time
    with its markdown not yet converted (what a build does), the second with it already
    converted, which times Jinja2 alone; markdown is the difference.
    """
    from digest.pipeline.stages import published
    from digest.core.config import load_config
    from digest.render import environment, feeds, inline, mjml, text
    from digest.render import html as render
    from digest.render.archive import Neighbours

    config = load_config(root)
    t = time.process_time()
    issues = _load(config)
    load_ms = (time.process_time() - t) * 1000 / len(issues)
    env = environment.make_env(config)
    chosen = issues[-sample:]
    render.render_email(env, config, issues[0])  # warm caches and imports
    text.render_text(env, config, issues[0])

    def templates(issue: Issue) -> tuple[str, float]:
        t = time.process_time()
        mjml_src = render.email_mjml(env, config, issue)
        content = render.render_content(env, config, issue)
        render.render_web(env, config, issue, content, Neighbours(None, None, ()))
        text.render_text(env, config, issue)
        return mjml_src, time.process_time() - t

    totals = {"markdown": 0.0, "jinja": 0.0, "mjml": 0.0, "premailer": 0.0}
    for issue in chosen:
        mjml_src, cold = templates(issue)
        warm = templates(issue)[1]
        t0 = time.process_time()
        html = mjml.mjml_to_html(mjml_src)
        t1 = time.process_time()
        inline.finish_email(inline.inline_css(html), config)
        t2 = time.process_time()
        totals["markdown"] += cold - warm
        totals["jinja"] += warm
        totals["mjml"] += t1 - t0
        totals["premailer"] += t2 - t1
    per = {"load+validate": load_ms, **{k: v * 1000 / len(chosen) for k, v in totals.items()}}
    newest = published(issues)[: config.feed_items]
    contents = {i.number: render.render_content(env, config, i) for i in newest}
    t = time.process_time()
    files = feeds.render_feeds(config, newest, contents)
    per["feeds (whole site)"] = (time.process_time() - t) * 1000
    with tempfile.TemporaryDirectory() as tmp:
        data = render.render_email(env, config, chosen[0]).encode()
        t = time.process_time()
        for i in range(200):
            p = Path(tmp, str(i), "email.html")
            p.parent.mkdir()
            p.write_bytes(data)
        per["write one file"] = (time.process_time() - t) * 1000 / 200
    per["email bytes"] = float(len(render.render_email(env, config, chosen[0]).encode()))
    del files
    return per


def _load(config: Config) -> list[Issue]:
    from digest.pipeline.stages import context, read_sources, validate_issue

    ctx = context(config)
    issues = []
    for s in read_sources(config):
        checked = validate_issue(ctx, s)
        assert checked.issue is not None, checked.problems
        issues.append(checked.issue)
    return issues


def corpus_copy(corpus: Path, workdir: Path) -> tuple[Path, list[str]]:
    """A copy of a real newsletter folder that builds: its content fixes applied (if it has a
    ``content-fixes.patch``), and the issues that still fail (say, over the clip gate) left out."""
    root = workdir / "corpus"
    shutil.copytree(corpus, root, ignore=shutil.ignore_patterns("site", ".digest-cache"))
    if (root / "content-fixes.patch").is_file() and shutil.which("patch"):
        subprocess.run(["patch", "-s", "-p1", "-i", "content-fixes.patch"], cwd=root, check=True, capture_output=True)
    from digest.pipeline.build import check
    from digest.core.errors import DigestError

    dropped: list[str] = []
    for _ in range(3):
        try:
            check(root)
            break
        except DigestError as e:
            for path in sorted({p.path for p in e.problems if not p.warning and p.path.startswith("issues/")}):
                (root / path).unlink(missing_ok=True)
                dropped.append(path)
    return root, dropped


def mjml_sources(root: Path) -> dict[int, str]:
    from digest.core.config import load_config
    from digest.render import environment
    from digest.render import html as render

    config = load_config(root)
    env = environment.make_env(config)
    return {issue.number: render.email_mjml(env, config, issue) for issue in _load(config)}


def _ratio(label: str, value: float | None, target: float, now: str) -> str:
    shown = "not measured" if value is None else f"{value:.3f}"
    verdict = "" if value is None else ("  met" if value <= target else "  MISSED")
    return f"| {label} | {now} | <= {target} | {shown}{verdict} |"


PREVIEW_SMALL = 100  # the preview's edit-to-reload must not grow with the archive: measured here and at --issues


def _preview(n: int, root: Path | None = None) -> dict[str, Any]:
    """The preview's edit-to-reload at PREVIEW_SMALL and ``n`` issues (``root``: an ``n``-issue newsletter already made)."""
    from benchmarks.preview import preview_latency

    with tempfile.TemporaryDirectory(prefix="digest-bench-preview-") as tmp:
        roots = {n: root} if root is not None else {}
        for size in {PREVIEW_SMALL, n} - set(roots):
            roots[size] = Path(tmp) / str(size)
            make_newsletter(roots[size], size)
        return preview_latency(roots)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--issues", type=int, default=1000, help="synthetic issues (default 1000)")
    parser.add_argument("--corpus", type=Path, help="also benchmark a real newsletter folder (e.g. ../shared/corpora/this-week-in-rust), and its largest emails' sizes against TWiR's own")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of full, no-op and edit builds, the medians reported (default 3)")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer pipeline (Pelican, Node MJML 5 + juice)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--preview-only", action="store_true", help=f"only the preview's edit-to-reload figures ({PREVIEW_SMALL} and --issues issues), no builds")
    args = parser.parse_args(argv)
    n = args.issues
    if args.preview_only:
        preview = {"preview": _preview(n)}
        if args.json:
            args.json.write_text(json.dumps(preview, indent=2, default=str) + "\n")
        return
    results: dict[str, Any] = {"machine": f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}", "repeat": args.repeat}
    print(f"{args.repeat} rounds of full, no-op, first edit and edit builds, each in a fresh process; each figure is its median over the rounds, each ratio the median of the rounds' ratios; CPU = user + system of the build and its workers", flush=True)
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        base = Path(tmp)
        root = base / "synthetic"
        make_newsletter(root, n)
        synthetic = build_rounds(root, args.repeat)
        full, noop, edit = synthetic["full"], synthetic["noop"], synthetic["edit"]
        results.update(synthetic)
        for name, r in (("full build", full), ("no-op", noop), ("first edit", synthetic["first_edit"]), ("edit one issue", edit)):
            print(f"{n} synthetic issues, {name:>14}: {r['seconds']:7.2f} s wall, {r['cpu']:7.2f} s CPU, {r['changed']} rendered  (CPU by round: {r['runs_cpu']})", flush=True)
        results["preview"] = _preview(n, root)
        stages = stage_times(root)
        results["stages_ms"] = stages
        print("per issue, one process: " + ", ".join(f"{k} {v:.2f} ms" for k, v in stages.items() if k != "email bytes"))
        print(f"email.html of a synthetic issue: {stages['email bytes'] / 1024:.1f} KiB (Gmail clips at 102 KiB)")
        design = stages["jinja"] + stages["mjml"] + stages["premailer"]
        per_issue_cpu = full["cpu"] / n * 1000
        print(f"our CPU per issue in a full build: {per_issue_cpu:.2f} ms; Jinja2 + MRML + premailer alone: {design:.2f} ms", flush=True)
        peers_cpu = None
        if not args.no_peers:
            from benchmarks import peers as bench_peers
            from digest.core.config import load_config

            config = load_config(root)
            pel = bench_peers.pelican(config, _load(config), base)
            node = bench_peers.node_email(mjml_sources(root), base)
            results.update(pelican=pel, node=node)
            for name, r in (("Pelican full build", pel), ("Node MJML + juice", node)):
                print(f"{name}: " + (f"cannot be measured: {r['error']}" if "error" in r else f"{r['cpu_s']:.2f} s CPU, {r['wall_s']:.2f} s wall"), flush=True)
            if "error" not in pel and "error" not in node:
                peers_cpu = pel["cpu_s"] + node["cpu_s"]
                print(f"peers: pelican {pel['version']}, mjml {node['mjml']}, juice {node['juice']}")
        corpus_ratio = None
        if args.corpus:
            croot, dropped = corpus_copy(args.corpus, base)
            count = len(list((croot / "issues").glob("*.yaml")))
            print(f"corpus {args.corpus}: {count} issues" + (f" ({len(dropped)} left out: they fail the build: {', '.join(dropped)})" if dropped else ""), flush=True)
            from benchmarks.sizes import report

            results["corpus_email_bytes"] = report(croot)
            corpus = build_rounds(croot, args.repeat)
            results.update(corpus=corpus, corpus_issues=count, corpus_dropped=dropped)
            for name in ("full", "noop", "first_edit", "edit"):
                r = corpus[name]
                print(f"corpus, {name.replace('_', ' '):>14}: {r['seconds']:7.2f} s wall, {r['cpu']:7.2f} s CPU, {r['changed']} rendered  (wall by round: {r['runs_s']})", flush=True)
            corpus_ratio = corpus["edit_wall_ratio"]
    rows = [
        _ratio(f"edit one issue / full build, {n:,} synthetic issues (CPU)", synthetic["edit_cpu_ratio"], 0.02, "0.085"),
        _ratio("edit one issue / full build, the corpus (wall)", corpus_ratio, 0.02, "0.11"),
        _ratio(f"no-op / full build, {n:,} issues (CPU)", synthetic["noop_cpu_ratio"], 0.01, "0.024"),
        _ratio("full build CPU / (Pelican full build + Node MJML 5 + juice)", full["cpu"] / peers_cpu if peers_cpu else None, 0.45, "0.68"),
        _ratio("per-issue CPU / (Jinja2 + MRML + premailer for that issue)", per_issue_cpu / design, 1.4, "2.2"),
    ]
    results["table"] = rows
    print("\n| ratio | before | target | this run |\n|---|---|---|---|\n" + "\n".join(rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
