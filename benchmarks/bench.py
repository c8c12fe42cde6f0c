"""The project's benchmark: ``python -m benchmarks.bench [--issues 1000] [--corpus DIR] [--baseline REV]``.

It measures, in one run on one machine, what issue 18's Targets table asks for:
- no-op / full build and edit one issue / full build (the first edit after a full build
  too), on N synthetic issues made in a temporary folder; CPU of the build's process and
  its workers; ``--repeat`` rounds, each ratio the median of the rounds' (benchmarks.builds);
- the preview's edit-to-reload against that issue's render (benchmarks.preview);
- the full build against the peer pipeline on the same content, Pelican for the pages and
  Node's MJML 5 + juice for the emails (benchmarks.peers; installed into the temporary
  folder, and reported as not measured when they cannot be);
- the modules one issue crosses from YAML to email.html, and the infrastructure's lines
  (benchmarks.path).
``--baseline REV`` times digest at git revision REV in the same rounds, on the same content,
so that a ratio can be compared with it on a noisy machine; ``--corpus DIR`` builds a real
newsletter folder too (a copy: the folder is only read).  It is a tool, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import builds, newsletter, peers, preview
from benchmarks.newsletter import add_issue, make_newsletter  # the tests make their newsletters with these

__all__ = ["add_issue", "main", "make_newsletter", "run", "table"]

PREVIEW_SMALL = 100  # the preview's edit-to-reload must not grow with the archive: measured here and at --issues
KINDS = (("full", "full build"), ("noop", "no-op"), ("first_edit", "first edit"), ("edit", "edit one issue"))


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    # Stopped with SIGTERM, it still removes its temporary folder (the venvs and sites in it are large).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        work = Path(tmp)
        # In-process work (checking the corpus, the preview's server) keeps its caches here,
        # not in the user's own cache folder.
        os.environ["XDG_CACHE_HOME"] = str(work / "home-bench" / "cache")
        os.environ["XDG_STATE_HOME"] = str(work / "home-bench" / "state")
        results = run(args, work)
    results["minutes"] = round((time.perf_counter() - started) / 60, 1)
    print(f"\n(the benchmark took {results['minutes']} min; load average at the end {_load()})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--issues", type=int, default=1000, help="synthetic issues (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of full, no-op and edit builds (default 3)")
    parser.add_argument(
        "--corpus",
        type=Path,
        help=(
            "also build a real newsletter folder (a copy of it), e.g. "
            "../shared/corpora/this-week-in-rust, and report its largest emails' sizes"
        ),
    )
    parser.add_argument("--baseline", metavar="REV", help="also time digest at this git revision, in the same rounds")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer pipeline (Pelican, Node MJML 5 + juice)")
    parser.add_argument("--no-preview", action="store_true", help="skip the preview's edit-to-reload")
    parser.add_argument("--preview-edits", type=int, default=15, help="edits timed per preview (default 15)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    return parser


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    n = args.issues
    results: dict[str, Any] = {
        "machine": _machine(),
        "revision": builds.revision(),
        "issues": n,
        "repeat": args.repeat,
        "started": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
    }
    print(f"digest benchmark, {results['started']}; this checkout: {results['revision']}")
    print(f"machine: {results['machine']}; load average at the start {_load()}")
    print(
        f"{args.repeat} rounds of full build (from scratch), no-op, first edit and edit, each build a fresh process; "
        "CPU = user + system of the build and its workers; each figure is its median over the rounds, each ratio "
        "the median of the rounds' ratios",
        flush=True,
    )
    digests = [builds.current(work)]
    if args.baseline:
        t = time.perf_counter()
        digests.append(builds.baseline(args.baseline, work))
        print(f"baseline: digest at {digests[1].label}, installed in {time.perf_counter() - t:.0f} s", flush=True)
    synthetic = work / "synthetic"
    newsletter.make_newsletter(synthetic, n)
    # The current digest without the search index too, in the same rounds: the work the baseline and the peers do.
    *results["synthetic"], results["synthetic_no_search"] = _rounds(
        f"{n} synthetic issues", [*digests, builds.without_search(digests[0])], synthetic, args.repeat
    )
    results["search"] = {"synthetic": _search(digests[0], synthetic, f"{n} synthetic issues", args.repeat)}
    if args.corpus:
        results["corpus"] = _corpus(args.corpus, digests, work, args.repeat)
        results["search"]["corpus"] = _search(digests[0], work / "corpus", "the corpus", args.repeat)
    if not args.no_preview:
        results["preview"] = _preview(n, synthetic, args.preview_edits, work)
    stages = _stage_times(synthetic, results["synthetic"][0]["full"]["cpu"] / n * 1000)
    results["stages_ms"] = stages
    if not args.no_peers:
        results["peers"] = _peers(synthetic, work)
    results["path"] = _path()
    results["table"] = table(results, args.baseline)
    print("\n" + "\n".join(results["table"]))
    return results


def _rounds(what: str, digests: list[builds.Digest], source: Path, repeat: int) -> list[dict[str, Any]]:
    """The build rounds on ``source``, each digest building a copy of its own; printed."""
    roots = []
    for digest in digests:
        root = digest.home.parent / f"{source.name}-{digest.home.name}"
        shutil.copytree(source, root)
        with (root / "config.yaml").open("a", encoding="utf-8") as f:
            f.write(digest.config)
        roots.append((digest, root))
    summaries = builds.build_rounds(roots, repeat)
    for summary in summaries:
        print(f"\n{what}, digest {summary['digest']} ({summary['module']}):")
        for kind, label in KINDS:
            r = summary[kind]
            print(
                f"  {label:>14}: {r['seconds']:7.2f} s wall, {r['cpu']:7.2f} s CPU, {r['changed']:4} rendered, "
                f"peak RSS {r['rss_mib']:.0f} MiB (CPU by round: {r['runs_cpu']})"
            )
        print(
            f"  no-op / full {summary['noop_cpu_ratio']:.4f}, first edit / full "
            f"{summary['first_edit_cpu_ratio']:.4f}, edit / full {summary['edit_cpu_ratio']:.4f} (CPU); "
            f"edit / full {summary['edit_wall_ratio']:.4f} (wall)",
            flush=True,
        )
    return summaries


def _search(digest: builds.Digest, source: Path, what: str, repeat: int) -> dict[str, Any] | None:
    """The search index's cost on the site this checkout's last round built from ``source`` (it is
    also inside every build's time above that changed a published page)."""
    from benchmarks.search import report

    site = digest.home.parent / f"{source.name}-{digest.home.name}" / "site"
    return report(site, what, repeat) if (site / "issues").is_dir() else None


def _corpus(corpus: Path, digests: list[builds.Digest], work: Path, repeat: int) -> dict[str, Any]:
    from benchmarks.sizes import report

    root = work / "corpus"
    dropped = newsletter.corpus_copy(corpus, root)
    count = len(list((root / "issues").glob("*.yaml")))
    left_out = f" ({len(dropped)} left out, failing the build: {', '.join(dropped)})" if dropped else ""
    print(f"\ncorpus {corpus}: {count} issues, its content fixes applied{left_out}", flush=True)
    sizes = report(root)
    return {
        "issues": count,
        "dropped": dropped,
        "email_bytes": sizes,
        "builds": _rounds(f"corpus ({count} issues)", digests, root, repeat),
    }


def _preview(n: int, synthetic: Path, edits: int, work: Path) -> dict[str, Any]:
    """The preview's edit-to-reload at PREVIEW_SMALL (if fewer than ``n``) and ``n`` issues."""
    print()
    roots = {n: synthetic}
    if n > PREVIEW_SMALL:
        roots[PREVIEW_SMALL] = work / f"preview-{PREVIEW_SMALL}"
        newsletter.make_newsletter(roots[PREVIEW_SMALL], PREVIEW_SMALL)
    return preview.preview_latency(roots, edits)


def _stage_times(root: Path, per_issue_cpu: float) -> dict[str, float]:
    from benchmarks.stagetimes import stage_times

    stages = stage_times(root, sample=min(20, len(list((root / "issues").glob("*.yaml")))))
    floor = stages["jinja"] + stages["mrml"] + stages["inline+finish"]
    print("\nper issue, CPU in one process: " + ", ".join(f"{k} {v:.2f} ms" for k, v in stages.items()))
    print(
        f"a full build's CPU per issue: {per_issue_cpu:.2f} ms; its email's Jinja2 + MRML + inlining alone: "
        f"{floor:.2f} ms ({per_issue_cpu / floor:.2f}x)",
        flush=True,
    )
    return stages


def _peers(root: Path, work: Path) -> dict[str, Any]:
    print()
    config, issues = peers.issues_of(root)
    pel = peers.pelican(config, issues, work)
    node = peers.node_email(peers.mjml_sources(root), work)
    for name, r in (("Pelican full build", pel), ("Node MJML 5 + juice", node)):
        if "error" in r:
            print(f"{name}: cannot be measured: {r['error']}", flush=True)
        else:
            print(f"{name}: {r['cpu_s']:.2f} s CPU, {r['wall_s']:.2f} s wall", flush=True)
    out: dict[str, Any] = {"pelican": pel, "node": node}
    if "error" not in pel and "error" not in node:
        out["cpu_s"] = pel["cpu_s"] + node["cpu_s"]
        print(f"peers: Pelican {pel['version']}, MJML {node['mjml']}, juice {node['juice']}: {out['cpu_s']:.2f} s CPU")
    return out


def _path() -> dict[str, Any]:
    """``python -m benchmarks.path`` in its own process (it traces calls): its module count and line counts."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.path"], cwd=builds.REPO, capture_output=True, text=True, check=True
    )
    print("\n" + done.stdout.rstrip())
    modules = re.search(r"^(\d+) modules, (\d+) functions$", done.stdout, re.M)
    lines = re.search(r"^infrastructure: (\d+) lines$", done.stdout, re.M)
    assert modules and lines, done.stdout
    return {"modules": int(modules[1]), "functions": int(modules[2]), "infrastructure_lines": int(lines[1])}


def table(results: dict[str, Any], baseline: str | None) -> list[str]:
    """Issue 18's Targets table with this run's figures (and the baseline's, when timed)."""
    n = results["issues"]
    current, *base = results["synthetic"]
    head = ["measure", "issue 18 (e08a1ab)", "target", "this checkout"] + ([f"baseline {baseline}"] if base else [])
    rows = [head, ["---"] * len(head)]

    def row(label: str, before: str, target: str, key: str, limit: float | None, fmt: str = "{:.4f}") -> None:
        figures = [s[key] for s in results["synthetic"]]
        shown = [
            fmt.format(v) + ("" if limit is None or i else (" met" if v <= limit else " MISSED"))
            for i, v in enumerate(figures)
        ]
        rows.append([label, before, target, *shown])

    path = results["path"]
    rows.append(
        [
            "infrastructure lines (cache, publishing, output guard, pool)",
            "~1,290",
            "<= 600",
            _verdict(path["infrastructure_lines"], 600, "{:,}"),
        ]
        + (["—"] if base else [])
    )
    rows.append(
        ["modules crossed from issue YAML to email.html in build()", "23", "<= 14", _verdict(path["modules"], 14, "{}")]
        + (["—"] if base else [])
    )
    row(f"no-op / full build, {n:,} synthetic issues (CPU)", "0.008–0.011", "<= 0.02", "noop_cpu_ratio", 0.02)
    row(f"edit one issue / full build, {n:,} issues (CPU)", "0.020–0.038", "<= 0.05", "edit_cpu_ratio", 0.05)
    row("first edit after a full build / full build (CPU)", "0.020–0.038", "<= 0.05", "first_edit_cpu_ratio", 0.05)
    prev = results.get("preview", {}).get(str(n))
    rows.append(
        [
            f"preview: edit to reload / that issue's render, {n:,} issues",
            "3.3–5.5x",
            "<= 10x",
            "not measured" if prev is None else _verdict(prev["ratio"], 10.0, "{:.1f}x"),
        ]
        + (["not measured"] if base else [])
    )
    peers_cpu = results.get("peers", {}).get("cpu_s")
    full_peers = [s["full"]["cpu"] / peers_cpu if peers_cpu else None for s in results["synthetic"]]
    shown = ["not measured" if v is None else f"{v:.2f}" for v in full_peers]
    if base and full_peers[0] is not None and full_peers[1] is not None:
        shown[0] += " met" if full_peers[0] <= full_peers[1] else " MISSED"
    rows.append(
        [
            "full build / (Pelican + Node MJML 5 + juice), same content (CPU)",
            "1.37–1.6",
            "no worse than the baseline",
            *shown,
        ]
    )
    no_search = results.get("synthetic_no_search")
    if no_search and peers_cpu:
        ratio = no_search["full"]["cpu"] / peers_cpu
        verdict = "" if full_peers[-1] is None or not base else (" met" if ratio <= full_peers[-1] else " MISSED")
        rows.append(
            ["the same without the search index (`search: false`: the baseline's and the peers' work)", "—", "same"]
            + [f"{ratio:.2f}{verdict}"]
            + (["—"] if base else [])
        )
    for where, found in results.get("search", {}).items():
        if found:
            cost = f"{found['wall_s']:.2f} s wall, {found['cpu_s']:.2f} s CPU"
            rows.append([f"search index, {where} ({found['pages']:,} pages)", "—", "—", cost, *(["—"] if base else [])])
    corpus = results.get("corpus")
    if corpus:
        for key, label in (
            ("noop_cpu_ratio", "no-op / full"),
            ("edit_cpu_ratio", "edit / full"),
            ("first_edit_cpu_ratio", "first edit / full"),
        ):
            rows.append(
                [
                    f"corpus ({corpus['issues']} issues): {label} (CPU)",
                    "—",
                    "—",
                    *(f"{s[key]:.4f}" for s in corpus["builds"]),
                ]
            )
        rows.append(
            [
                f"corpus ({corpus['issues']} issues): full build (CPU s)",
                "—",
                "—",
                *(f"{s['full']['cpu']:.1f}" for s in corpus["builds"]),
            ]
        )
    rows.append(
        [
            f"full build, {n:,} synthetic issues (CPU s)",
            "—",
            "—",
            *(f"{s['full']['cpu']:.1f}" for s in results["synthetic"]),
        ]
    )
    if no_search:
        rows.append(
            ["full build with `search: false` (CPU s)", "—", "—", f"{no_search['full']['cpu']:.1f}"]
            + (["—"] if base else [])
        )
    return ["| " + " | ".join(r) + " |" for r in rows]


def _verdict(value: float, limit: float, fmt: str) -> str:
    return fmt.format(value) + (" met" if value <= limit else " MISSED")


def _machine() -> str:
    mem = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])  # type: ignore[index]
        mem = f", {kib / 2**20:.0f} GiB"
    except (OSError, TypeError):
        pass
    node = ""
    if shutil.which("node"):
        node = ", Node " + subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    system = f"{platform.system()} {platform.machine()}"
    return f"{os.cpu_count()} cores{mem}, {system}, Python {platform.python_version()}{node}"


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
