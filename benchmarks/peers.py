"""The peer pipeline for ``python -m benchmarks.bench``: This Week in Rust's tools on the same content.

- Pelican (from PyPI, into a temporary venv) builds the web pages from one markdown
  article per issue, written from our models;
- Node's MJML 5 and juice (from npm, into a temporary folder) turn each issue's MJML,
  as our templates write it, into an inlined email.

Each returns CPU seconds (user + system of the tool's processes), or a reason it could not
be measured; the bench prints that rather than failing.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest.core.models import Config, Issue, Section

NODE_SCRIPT = r"""
const fs = require('fs'), path = require('path');
const mjml2html = require('mjml'), juice = require('juice');
const dir = process.argv[2];
const files = fs.readdirSync(dir).filter(f => f.endsWith('.mjml')).sort();
(async () => {
  const start = process.cpuUsage(), t = process.hrtime.bigint();
  for (const f of files) {
    // MJML 5's mjml2html returns a promise (MJML 4's returned the result).
    const out = await mjml2html(fs.readFileSync(path.join(dir, f), 'utf8'), {validationLevel: 'skip'});
    fs.writeFileSync(path.join(dir, f + '.html'), juice(out.html));
  }
  const cpu = process.cpuUsage(start);
  console.log(JSON.stringify({cpu_s: (cpu.user + cpu.system) / 1e6, wall_s: Number(process.hrtime.bigint() - t) / 1e9,
    issues: files.length, mjml: require('mjml/package.json').version, juice: require('juice/package.json').version}));
})();
"""

PELICAN_SETTINGS = """
AUTHOR = 'Bench'
SITENAME = 'Bench'
SITEURL = ''
TIMEZONE = 'UTC'
DEFAULT_LANG = 'en'
FEED_ALL_ATOM = 'feeds/all.atom.xml'
DEFAULT_PAGINATION = False
RELATIVE_URLS = True
"""


def _article(config: Config, issue: Issue) -> str:
    """The issue as a Pelican markdown article, the way This Week in Rust writes one."""
    lines = [
        f"Title: {issue.title}",
        f"Number: {issue.number}",
        f"Date: {issue.date.isoformat()}",
        "Category: Digest",
        "",
    ]
    if issue.intro:
        lines += [issue.intro, ""]

    def section_md(section: Section, level: str) -> None:
        lines.extend([f"{level} {section.title or ''}", ""] + ([section.intro, ""] if section.intro else []))
        for item in section.items:
            head = f"[{item.title}]({item.url})" if item.title and item.url else (item.title or "")
            summary = " ".join((item.summary or "").split())
            lines.append(f"* {head}{': ' if head and summary else ''}{summary}")
        lines.append("")
        for sub in section.sections:
            section_md(sub, level + "#")

    for section in issue.sections:
        section_md(section, "###")
    if issue.outro:
        lines += [issue.outro, ""]
    return "\n".join(lines)


def pelican(config: Config, issues: list[Issue], workdir: Path) -> dict[str, Any]:
    """Pelican's full build of one article per issue: CPU seconds, or why it could not run."""
    venv = workdir / "pelican-venv"
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    pip = venv / "bin" / "pip"
    if made.returncode != 0:
        return {"error": f"cannot make a venv: {made.stderr.strip()[-200:]}"}
    install = subprocess.run([str(pip), "install", "-q", "pelican[markdown]"], capture_output=True, text=True)
    if install.returncode != 0:
        return {"error": f"pip install pelican failed: {install.stderr.strip()[-300:]}"}
    content = workdir / "pelican" / "content"
    content.mkdir(parents=True)
    for issue in issues:
        (content / f"{issue.number:04d}.md").write_text(_article(config, issue), encoding="utf-8")
    (workdir / "pelican" / "pelicanconf.py").write_text(PELICAN_SETTINGS, encoding="utf-8")
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import pelican; print(pelican.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    run = _cpu(
        [
            str(venv / "bin" / "pelican"),
            str(content),
            "-o",
            str(workdir / "pelican" / "output"),
            "-s",
            str(workdir / "pelican" / "pelicanconf.py"),
            "-q",
        ],
        cwd=workdir / "pelican",
    )
    if run["returncode"] != 0:
        return {"error": f"pelican failed: {run['stderr'][-300:]}"}
    return {"cpu_s": run["cpu_s"], "wall_s": run["wall_s"], "version": version}


def mjml_sources(root: Path) -> dict[int, str]:
    """Each issue's email as MJML, as our templates write it (the input of Node's MJML)."""
    from digest.core.config import load_config
    from digest.pipeline.stages import context, read_sources, validate_issue
    from digest.render import html

    ctx = context(load_config(root))
    sources = {}
    for src in read_sources(ctx.config):
        issue = validate_issue(ctx, src).issue
        assert issue is not None, src.rel
        sources[issue.number] = html.email_mjml(ctx.env, ctx.config, issue)
    return sources


def issues_of(root: Path) -> tuple[Config, list[Issue]]:
    """The newsletter's config and every issue's model (it must validate)."""
    from digest.core.config import load_config
    from digest.pipeline.stages import context, read_sources, validate_issue

    ctx = context(load_config(root))
    issues = [validate_issue(ctx, src).issue for src in read_sources(ctx.config)]
    return ctx.config, [i for i in issues if i is not None]


def node_email(mjml_sources: dict[int, str], workdir: Path) -> dict[str, Any]:
    """MJML 5 then juice on each issue's MJML, in Node: CPU seconds, or why it could not run."""
    if not (shutil.which("node") and shutil.which("npm")):
        return {"error": "node or npm not found"}
    node_dir = workdir / "node"
    node_dir.mkdir()
    install = subprocess.run(
        ["npm", "install", "--silent", "--no-audit", "--no-fund", "mjml@5", "juice"],
        cwd=node_dir,
        capture_output=True,
        text=True,
    )
    if install.returncode != 0:
        return {"error": f"npm install mjml@5 juice failed: {install.stderr.strip()[-300:]}"}
    emails = workdir / "emails"
    emails.mkdir()
    for number, src in mjml_sources.items():
        (emails / f"{number:04d}.mjml").write_text(src, encoding="utf-8")
    (node_dir / "bench.js").write_text(NODE_SCRIPT)
    out = subprocess.run(["node", "bench.js", str(emails)], cwd=node_dir, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": f"node failed: {out.stderr.strip()[-300:]}"}
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _cpu(command: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``command``; its CPU seconds (it and its children) and wall seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu_s": cpu, "wall_s": wall, "returncode": done.returncode, "stderr": done.stderr}
