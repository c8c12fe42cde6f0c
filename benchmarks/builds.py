"""Timed builds for ``python -m benchmarks.bench``: this digest's, and digest's at another git revision.

Rules:
- Every build runs in a fresh process (``python -I``, started in a neutral folder, so that
  neither the working directory nor PYTHONPATH decides which digest is imported), and is
  measured there: wall seconds of build() alone, CPU seconds (user + system) of the process
  and its workers, which includes starting Python and importing digest, as a user pays them.
- Each digest has its own cache home (XDG_CACHE_HOME, XDG_STATE_HOME) and its own copy of
  the newsletter, so that one digest's cache or site never serves the other's build.
- Rounds, not one phase per kind of build: on a shared machine the speed drifts by a quarter
  within minutes, so each round makes a full build from scratch, a no-op, a first edit (after
  a full build it also does one-off work, such as filling a spare site) and an edit, one
  digest after the other; each ratio is the median of the rounds' ratios.
- A baseline is digest at a git revision, exported with ``git archive`` (no worktree is
  registered, so a killed benchmark leaves nothing in the repository) and installed with
  its own dependencies into a temporary venv.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.newsletter import edit_newest

REPO = Path(__file__).resolve().parent.parent
KINDS = ("full", "noop", "first_edit", "edit")

# Run by each digest's Python; digest before the engine rewrite (e08a1ab and older) took the
# newsletter's folder, the pipeline takes its loaded config.
DRIVER = """\
import resource, sys, time
from pathlib import Path
if sys.argv[2]:
    sys.path.insert(0, sys.argv[2])
try:
    from digest.core.config import load_config
    from digest.pipeline.build import build as pipeline_build
    def build(root): return pipeline_build(load_config(root))
except ImportError:
    from digest.build.pipeline import build
import digest
t = time.perf_counter()
report = build(Path(sys.argv[1]))
t = time.perf_counter() - t
own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
print(t, cpu, own.ru_maxrss / 1024, kids.ru_maxrss / 1024, report.changed, digest.__file__)
"""


@dataclass(frozen=True)
class Digest:
    """One digest to time: the Python that imports it, and a folder of its own for its caches."""

    label: str
    python: str
    home: Path  # its XDG cache and state folders, and the folder builds start in
    path: str = ""  # a folder to import digest from before the venv's site-packages ("": the venv's digest)
    config: str = ""  # lines added to its copy's config.yaml (the same digest doing less: "search: false")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "XDG_"))}
        return {**env, "XDG_CACHE_HOME": str(self.home / "cache"), "XDG_STATE_HOME": str(self.home / "state")}

    def timed_build(self, root: Path) -> dict[str, Any]:
        """One build of ``root`` in a fresh process: wall and CPU seconds, peak RSS (MiB), issues rendered."""
        self.home.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [self.python, "-I", "-c", DRIVER, str(root.absolute()), self.path],
            cwd=self.home,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{self.label}: the build of {root} failed:\n{done.stderr[-3000:]}")
        seconds, cpu, own, kids, changed, module = done.stdout.split()
        return {
            "seconds": float(seconds),
            "cpu": float(cpu),
            "rss_mib": float(own),
            "worker_rss_mib": float(kids),
            "changed": int(changed),
            "module": module,
        }

    def from_scratch(self, root: Path) -> None:
        """Forget every build: the site, the spare and new sites beside it, and every cache."""
        for path in [root / "site", root / ".digest-cache", *root.glob(".site.digest-*"), self.home / "cache"]:
            shutil.rmtree(path, ignore_errors=True)


def current(workdir: Path) -> Digest:
    """The digest this benchmark imports (this checkout's, when run from it), with the running venv's libraries."""
    import digest

    return Digest("this checkout", sys.executable, workdir / "home-current", str(Path(digest.__file__).parent.parent))


def without_search(digest: Digest) -> Digest:
    """``digest`` building its copy with ``search: false``: the work a digest without the archive's search does."""
    return dataclasses.replace(
        digest,
        label=f"{digest.label}, search: false",
        home=digest.home.with_name(f"{digest.home.name}-nosearch"),
        config="search: false\n",
    )


def baseline(rev: str, workdir: Path) -> Digest:
    """digest at git revision ``rev``, installed into a venv under ``workdir``."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}").strip()
    src = workdir / f"digest-{commit[:10]}"
    src.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
    venv = workdir / f"venv-{commit[:10]}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    pip = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(src)], capture_output=True, text=True
    )
    if pip.returncode != 0:
        raise RuntimeError(f"cannot install digest at {rev}: {pip.stderr.strip()[-1000:]}")
    return Digest(f"{rev} ({commit[:10]})", str(venv / "bin" / "python"), workdir / f"home-{commit[:10]}")


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout


def revision() -> str:
    """This checkout's commit, and whether it has uncommitted changes."""
    try:
        head = _git("rev-parse", "--short", "HEAD").strip()
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes" if dirty else "")


def build_rounds(digests: list[tuple[Digest, Path]], repeat: int) -> list[dict[str, Any]]:
    """``repeat`` rounds of full, no-op, first edit and edit builds, by each digest of its own
    copy of the newsletter in turn; per digest, each figure and ratio's median."""
    runs: list[dict[str, list[dict[str, Any]]]] = [{kind: [] for kind in KINDS} for _ in digests]
    for i in range(repeat):
        for (digest, root), mine in zip(digests, runs, strict=True):
            digest.from_scratch(root)
            mine["full"].append(digest.timed_build(root))
            mine["noop"].append(digest.timed_build(root))
            edit_newest(root, 2 * i)
            mine["first_edit"].append(digest.timed_build(root))
            edit_newest(root, 2 * i + 1)
            mine["edit"].append(digest.timed_build(root))
    return [_summarised(digest, mine) for (digest, _), mine in zip(digests, runs, strict=True)]


def _summarised(digest: Digest, runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {"digest": digest.label, "module": runs["full"][0]["module"]}
    out.update({kind: _summary_of(runs[kind]) for kind in KINDS})
    for kind in ("noop", "first_edit", "edit"):
        out[f"{kind}_cpu_ratio"] = _median_ratio(runs[kind], runs["full"], "cpu")
        out[f"{kind}_wall_ratio"] = _median_ratio(runs[kind], runs["full"], "seconds")
    return out


def _median_ratio(part: list[dict[str, Any]], whole: list[dict[str, Any]], what: str) -> float:
    return statistics.median(p[what] / w[what] for p, w in zip(part, whole, strict=True))


def _summary_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median round's figures (by wall time), with the CPU median and the peak RSS over all rounds."""
    median = dict(sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2])
    median.pop("module")
    median["cpu"] = statistics.median(r["cpu"] for r in runs)
    median["rss_mib"] = max(r["rss_mib"] for r in runs)
    median["worker_rss_mib"] = max(r["worker_rss_mib"] for r in runs)
    median["runs_s"] = [round(r["seconds"], 3) for r in runs]
    median["runs_cpu"] = [round(r["cpu"], 3) for r in runs]
    median["runs_changed"] = [r["changed"] for r in runs]
    return median
