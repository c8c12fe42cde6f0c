"""The benchmark (``python -m benchmarks.bench``) still runs against the current engine: a
small run (5 issues, two rounds, no peers, no baseline) must finish and measure what it says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from benchmarks.path import PACKAGE, infrastructure_lines


@pytest.mark.slow
def test_the_benchmark_runs_on_a_small_newsletter(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.bench",
            "--issues",
            "5",
            "--repeat",
            "2",
            "--no-peers",
            "--preview-edits",
            "2",
            "--json",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    [ours] = results["synthetic"]  # no baseline asked for
    assert ours["module"] == str(REPO / "digest" / "__init__.py")  # this checkout's digest was timed
    # Each build did what its name says, in every round: from scratch, nothing, then the one edited issue.
    rendered = [ours[kind]["runs_changed"] for kind in ("full", "noop", "first_edit", "edit")]
    assert rendered == [[5, 5], [0, 0], [1, 1], [1, 1]]
    assert all(ours[kind]["cpu"] > 0 for kind in ("full", "noop", "first_edit", "edit"))
    assert 0 < ours["noop_cpu_ratio"] < 1 and 0 < ours["edit_cpu_ratio"] < 1
    assert results["preview"]["5"]["ratio"] > 0
    # The same digest without the search index, timed in the same rounds (the baseline's and the peers' work).
    no_search = results["synthetic_no_search"]
    assert no_search["digest"] == "this checkout, search: false" and no_search["module"] == ours["module"]
    assert [no_search[kind]["runs_changed"] for kind in ("full", "noop", "first_edit", "edit")] == rendered
    assert results["path"]["modules"] > 0 and results["path"]["infrastructure_lines"] > 0
    assert "peers" not in results
    table = "\n".join(results["table"])
    assert "| no-op / full build, 5 synthetic issues (CPU) | 0.008–0.011 | <= 0.02 | " in table
    assert (
        "| full build / (Pelican + Node MJML 5 + juice), same content (CPU) | 1.37–1.6 | no worse than the "
        "baseline | not measured |" in table
    )
    assert table in done.stdout


def test_the_infrastructure_count_finds_every_part(tmp_path: Path) -> None:
    counts = infrastructure_lines()
    assert len(counts) == 4 and all(n > 0 for n in counts.values())
    # A renamed pool function makes the count fail rather than shrink.
    (tmp_path / "pipeline").mkdir()
    for name in ("cache.py", "publish.py", "output.py"):
        (tmp_path / "pipeline" / name).write_text("x = 1\n")
    build = (PACKAGE / "pipeline" / "build.py").read_text(encoding="utf-8")
    (tmp_path / "pipeline" / "build.py").write_text(build.replace("def _map(", "def _pool_map("))
    with pytest.raises(LookupError, match="defines no _map"):
        infrastructure_lines(tmp_path)
