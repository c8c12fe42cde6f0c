"""The Nu Html Checker (vnu.jar, from npm's vnu-jar; .ci/run installs it) over what digest writes.

Web pages: zero errors.  Emails: zero errors but the ones email needs, written down in
EMAIL_ALLOWED with the reason for each.  One JVM runs over every file (it starts slowly).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import GOLDEN_SRC, REPO, run

pytestmark = pytest.mark.slow  # the Nu Html Checker (a JVM): the fast tier is -m 'not slow'

JAR = Path(
    os.environ.get("DIGEST_VNU_JAR") or REPO / ".ci" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
)

# What an email needs that HTML does not allow, and nothing else.
EMAIL_ALLOWED = {
    # Outlook's own CSS properties (table spacing, line heights): MJML's Outlook layout.
    "mso-* CSS": re.compile(r"CSS: “mso-[a-z-]+”: Property “mso-[a-z-]+” doesn't exist\."),
    # The VML namespaces on <html>, for Outlook's conditional comments (MJML).
    "VML namespaces": re.compile(r"Attribute “xmlns:[vo]” not allowed here\."),
    # A mailing service's merge tag as the unsubscribe href (*|UNSUB|*): the service swaps it for the URL.
    "merge-tag href": re.compile(
        r"Bad value “(\*\|\w+\|\*|\{\{ ?\w+ ?\}\}|%\w+%|\[\w+\])” for attribute “href” on element “a”: .*"
    ),
    # Apple Mail's older name for color-scheme, which its dark mode reads.
    "supported-color-schemes": re.compile(
        r"CSS: “supported-color-schemes”: Property “supported-color-schemes” doesn't exist\."
    ),
}


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """vnu's errors per file (relative to its site), over four newsletters' outputs."""
    if not JAR.is_file() or shutil.which("java") is None:
        if os.environ.get("DIGEST_REQUIRE_VNU"):
            pytest.fail(f"the Nu Html Checker is required but missing: {JAR} (npm install vnu-jar) or java")
        pytest.skip(f"the Nu Html Checker is not installed at {JAR} (.ci/run installs it)")
    base = tmp_path_factory.mktemp("vnu")
    sources = {
        "golden": GOLDEN_SRC,
        "example": REPO,
        "arabic": REPO / "examples" / "arabic",
        "weekly": GOLDEN_SRC.parent / "weekly",  # sponsor boxes, author links, anchors and the search box
    }
    files: list[Path] = []
    for name, src in sources.items():
        root = base / name
        root.mkdir()
        shutil.copy2(src / "config.yaml", root)
        shutil.copytree(src / "issues", root / "issues")
        if (src / "images").is_dir():  # local images (the golden fixture has one)
            shutil.copytree(src / "images", root / "images")
        if (src / "templates").is_dir():
            shutil.copytree(src / "templates", root / "templates")
        result = run("build", "--root", str(root))
        assert result.exit_code == 0, result.output
        files += sorted((root / "site").rglob("*.html"))
    done = subprocess.run(
        ["java", "-jar", str(JAR), "--format", "json", "--errors-only", *map(str, files)],
        capture_output=True,
        text=True,
    )
    report = json.loads(done.stderr)
    out: dict[str, list[str]] = {str(f.relative_to(base)): [] for f in files}
    for m in report["messages"]:
        rel = str(Path(m["url"].removeprefix("file:")).relative_to(base))
        out[rel].append(f"line {m.get('lastLine')}: {m['message']}")
    assert len(out) == len(files) and any("email.html" in f for f in out) and any("index.html" in f for f in out)
    return out


def test_web_pages_have_no_errors(findings: dict[str, list[str]]) -> None:
    pages = {f: errors for f, errors in findings.items() if not f.endswith("email.html")}
    assert len(pages) >= 10
    assert {f: e for f, e in pages.items() if e} == {}


def test_emails_have_no_errors_but_what_email_needs(findings: dict[str, list[str]]) -> None:
    emails = {f: errors for f, errors in findings.items() if f.endswith("email.html")}
    assert len(emails) >= 5
    unexpected = {
        f: [e for e in errors if not any(p.fullmatch(e.split(": ", 1)[1]) for p in EMAIL_ALLOWED.values())]
        for f, errors in emails.items()
    }
    assert {f: e for f, e in unexpected.items() if e} == {}
    # Every allowance is needed (the list is not a blanket), and so the checker did read the emails.
    used = {
        name
        for errors in emails.values()
        for e in errors
        for name, p in EMAIL_ALLOWED.items()
        if p.fullmatch(e.split(": ", 1)[1])
    }
    assert used == set(EMAIL_ALLOWED)
