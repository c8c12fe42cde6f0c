"""Bad input gets a clear error, and nothing else: a table of hostile inputs.

Every case is a file (or a folder) under tests/fixtures/hostile/, with the exact
stderr it must produce beside it in ``<case>.expected``; the README there describes
the layout.  Each case runs the real CLI in a subprocess, ``check`` and ``build``
alike, and must:

- exit 1 and print exactly the expected ``path:line: key: message`` lines and summary;
- print no traceback, nothing on stdout, and a bounded amount on stderr;
- finish (the timeout is a hang guard only) within a bounded address space
  (RLIMIT_AS), so an alias bomb that blows up memory fails the test;
- leave the newsletter folder as it was: ``check`` writes nothing, and ``build``
  leaves a pre-existing site/ byte for byte untouched.

The CLI runs are many and independent, so they all start at once on a thread pool
(one subprocess per core); each test then checks its own case's results.

A new case is a new file: run the tests once with DIGEST_HOSTILE_DRAFT=1 to draft a
missing ``.expected`` from the current output, then read it as an editor would.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = (
    pytest.mark.slow
)  # hostile inputs: every case runs the CLI in its own process: the fast tier is -m 'not slow'

REPO = Path(__file__).resolve().parent.parent
HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"
BASE = HOSTILE / "base"

MEMORY_LIMIT = 1 << 30  # bytes of address space for each digest process
TIMEOUT = 60  # seconds: only a guard against hangs, not a performance assertion
MAX_LINES = 64
MAX_BYTES = 16 * 1024
SENTINEL = b"the previous site: any failed build must leave it exactly as it is\n"
COMMANDS = ("check", "build")
# A failed build may still fill the build cache with issues that did render; it is
# content-keyed, outside site/, and never wrong, so it is the one thing allowed to change.
BUILD_MAY_WRITE = (".site.lock", ".digest-cache")

# How each kind of case enters the base newsletter; see tests/fixtures/hostile/README.md.
KINDS = ("issues", "config", "templates", "newsletter")
CASE_SUFFIXES = {
    "issues": (".yaml", ".sparse", ""),
    "config": (".yaml", ".sparse"),
    "templates": ("",),
    "newsletter": ("",),
}

# Cases that fail for a reason outside validation, with who has to fix it.  strict:
# once fixed, the xpass fails and the entry must go.
KNOWN_FAILURES: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    kind: str  # "issues", "config", "templates" or "newsletter"
    source: Path  # the case file, or the case folder

    @property
    def name(self) -> str:
        return self.source.name.removesuffix(self.source.suffix) if self.source.is_file() else self.source.name

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def expected(self) -> Path:
        return self.source.parent / f"{self.name}.expected"


def discover() -> list[Case]:
    cases = []
    for kind in KINDS:
        for entry in sorted((HOSTILE / kind).iterdir()):
            if entry.suffix == ".expected" or entry.name.startswith("."):
                continue
            cases.append(Case(kind, entry))
    return cases


CASES = discover()


def _place(src: Path, target: Path) -> None:
    """Copy a case file to ``target``; a ``.sparse`` case holds a size, and becomes a sparse file of that size."""
    target.unlink(missing_ok=True)
    if src.suffix == ".sparse":
        with target.open("wb") as f:
            f.truncate(int(src.read_text().split("#")[0]))
    else:
        shutil.copyfile(src, target)


def make_newsletter(case: Case, root: Path) -> None:
    """The base newsletter with the case dropped in, and a previous site/ to protect."""
    shutil.copytree(BASE, root, symlinks=True)
    src = case.source
    if case.kind == "issues" and src.is_dir():
        shutil.rmtree(root / "issues")
        shutil.copytree(src, root / "issues", symlinks=True)
    elif case.kind == "issues":
        _place(src, root / "issues" / "0001.yaml")
    elif case.kind == "config":
        _place(src, root / "config.yaml")
    elif case.kind == "templates":
        shutil.copytree(src, root / "templates", symlinks=True)
    elif case.kind == "newsletter":  # laid over the base: its issues/0001.yaml, its images/...
        shutil.copytree(src, root, symlinks=True, dirs_exist_ok=True)
        for sparse in sorted(root.rglob("*.sparse")):
            _place(sparse, sparse.with_suffix(""))
            sparse.unlink()
    (root / "site" / "issues" / "1").mkdir(parents=True)
    (root / "site" / "index.html").write_bytes(SENTINEL)
    (root / "site" / ".digest-site").write_bytes(SENTINEL)  # a site digest built: a build may replace it
    (root / "site" / "issues" / "1" / "email.html").write_bytes(SENTINEL)


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes (a digest of big ones), symlink targets, folders."""
    import hashlib

    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = f"-> {os.readlink(p)}"
        elif p.is_dir():
            out[rel] = "<dir>"
        elif p.stat().st_size > 1 << 20:
            out[rel] = f"{p.stat().st_size} bytes, mtime {p.stat().st_mtime_ns}"
        else:
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@dataclass
class Run:
    command: str
    returncode: int | None  # None: it hung and was killed
    stdout: bytes
    stderr: bytes
    before: dict[str, bytes | str]
    after: dict[str, bytes | str]


def run_case(case: Case, tmp: Path, command: str) -> Run:
    """Run ``digest <command>`` on a fresh newsletter with the case in it."""
    root = tmp / command / "news"
    make_newsletter(case, root)
    before = snapshot(root)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONIOENCODING"] = "utf-8"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "digest", command, "--root", str(root)],
            capture_output=True,
            timeout=TIMEOUT,
            preexec_fn=_limit_memory,
            env=env,
            cwd=root.parent,
        )
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as e:
        returncode, stdout, stderr = None, e.stdout or b"", e.stderr or b""
    return Run(command, returncode, stdout, stderr, before, snapshot(root))


@pytest.fixture(scope="session")
def hostile_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Run]:
    """Every selected case under every command, run concurrently."""
    selected = [
        item.callspec.params["case"]
        for item in request.session.items
        # Only this module's cases: other modules may name a parameter "case" too.
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("case"), Case)
    ]
    jobs = [(case, command) for case in selected for command in COMMANDS]
    base = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {(c.id, cmd): pool.submit(run_case, c, base / c.id.replace("/", "--"), cmd) for c, cmd in jobs}
        return {k: f.result() for k, f in futures.items()}


def _check_output(case: Case, run: Run) -> None:
    stderr = run.stderr.decode("utf-8", errors="replace")
    where = f"{case.id}: digest {run.command}"
    assert run.returncode is not None, f"{where} did not finish within {TIMEOUT} s"
    assert b"Traceback" not in run.stderr + run.stdout, f"{where} printed a traceback:\n{stderr}"
    assert len(run.stderr) < MAX_BYTES and stderr.count("\n") < MAX_LINES, f"{where} printed {len(run.stderr)} bytes"
    assert run.returncode == 1, f"{where} exited {run.returncode}:\n{stderr}"
    assert run.stdout == b"", f"{where} printed on stdout: {run.stdout[:500]!r}"
    if not case.expected.exists():
        if os.environ.get("DIGEST_HOSTILE_DRAFT") and run.command == "build":
            case.expected.write_text(stderr, encoding="utf-8")
            pytest.fail(f"drafted {case.expected.relative_to(REPO)} from the output: read it, then run again")
        pytest.fail(f"{case.expected.relative_to(REPO)} is missing; the output was:\n{stderr}")
    expected = case.expected.read_text(encoding="utf-8")  # as build says it
    if run.command == "check":  # check writes nothing even when it passes: its summary is the count alone
        expected = re.sub(r"; nothing was written(\n?)\Z", r"\1", expected)
    assert stderr == expected, f"{where}: unexpected messages"


def _param(case: Case) -> object:
    marks = []
    if case.id in KNOWN_FAILURES:
        marks.append(pytest.mark.xfail(reason=KNOWN_FAILURES[case.id], strict=True))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_input_gets_a_clear_error_and_nothing_else(
    case: Case, hostile_runs: dict[tuple[str, str], Run]
) -> None:
    check, build = (hostile_runs[case.id, command] for command in COMMANDS)
    _check_output(case, check)
    assert check.after == check.before, f"{case.id}: check changed the newsletter folder"
    _check_output(case, build)
    site = {k: v for k, v in build.before.items() if k.startswith("site")}
    assert {k: v for k, v in build.after.items() if k.startswith("site")} == site, f"{case.id}: build changed site/"
    changed = {k for k in build.before.keys() | build.after.keys() if build.before.get(k) != build.after.get(k)}
    assert all(k.split("/")[0] in BUILD_MAY_WRITE for k in changed), f"{case.id}: build changed {sorted(changed)}"


def test_every_case_has_its_expected_output_and_nothing_is_stray() -> None:
    expected = {c.expected for c in CASES}
    stray = [p for kind in KINDS for p in (HOSTILE / kind).glob("*.expected") if p not in expected]
    assert not stray, f"expected output without a case: {stray}"
    misplaced = [c.id for c in CASES if (c.source.suffix if c.source.is_file() else "") not in CASE_SUFFIXES[c.kind]]
    assert not misplaced, f"not a case file of its kind (see the README): {misplaced}"
    assert not set(KNOWN_FAILURES) - {c.id for c in CASES}, "KNOWN_FAILURES names a case that does not exist"


def test_the_base_newsletter_is_valid() -> None:
    """Each case must fail because of what it adds, never because of the base."""
    from digest.core.config import load_config
    from digest.core.issuefiles import discover
    from digest.core.issues import load_issue

    config = load_config(BASE)
    files, problems = discover(BASE)
    assert problems == [] and [number for number, _, _ in files] == [1]
    issue, problems = load_issue(config, *files[0])
    assert issue is not None and problems == []


# Each rule of issue 4's "Bad input" list, with the case-name prefixes that test it: a
# reader can see every rule covered, and a rule cannot lose its last case unnoticed.
RULES = {
    "YAML syntax errors": [
        "issues/yaml-unclosed",
        "issues/yaml-colon",
        "issues/yaml-text-starts-with-",
        "config/yaml-unclosed",
    ],
    "tabs": ["issues/yaml-tab", "config/yaml-tab"],
    "duplicate keys in one mapping": ["issues/yaml-duplicate-key", "config/yaml-duplicate-key"],
    "a wrong type at every field": [
        *(
            f"issues/type-issue-{k}-"
            for k in ("number", "date", "title", "subject", "preheader", "draft", "intro", "outro", "sections")
        ),
        *(f"issues/type-section-{k}" for k in ("text", "title-", "items-")),
        *(
            f"issues/type-item-{k}"
            for k in ("text", "title-", "url-", "summary-", "source-", "author-", "date-", "image-")
        ),
        "issues/type-image-alt-",
        "issues/type-image-src-",
        *(
            f"config/type-{k}"
            for k in (
                "title-",
                "url-",
                "description-",
                "language-",
                "timezone-",
                "author-",
                "issue-title-",
                "email-",
                "feed-",
                "theme-",
            )
        ),
    ],
    "a list where text belongs, text where a list belongs, numbers, nulls": [
        "issues/type-issue-title-list",
        "issues/type-issue-sections-text",
        "issues/type-item-url-number",
        "issues/type-issue-title-null",
    ],
    "unknown keys, with a suggestion": [
        "issues/key-unknown-item-typo",
        "issues/key-unknown-no-close-match",
        "config/key-unknown-typo",
    ],
    "missing required keys, at the mapping that lacks them": ["issues/key-missing-", "config/key-missing-"],
    "empty sections": ["issues/empty-sections", "issues/empty-section-items"],
    "impossible dates, dates as free text": [
        "issues/date-impossible-",
        "issues/date-free-text",
        "issues/type-item-date-text",
    ],
    "javascript:, data:, ftp:, relative URLs, spaces, control characters in url:": [
        "issues/url-javascript",
        "issues/url-data",
        "issues/url-ftp",
        "issues/url-relative",
        "issues/url-space",
        "issues/url-control-character",
        "config/url-",
    ],
    "the same in markdown links and images, at the right line": [
        "issues/md-link-javascript-literal-block",
        "issues/md-link-javascript-folded-block",
        "issues/md-image-data-uri",
        "issues/md-link-ftp-",
        "issues/md-link-relative-",
        "issues/md-link-space-",
    ],
    "NUL and other characters XML cannot carry": ["issues/char-nul-", "issues/char-vertical-tab-", "config/char-"],
    "files that are not UTF-8; binary files": [
        "issues/file-latin1",
        "issues/file-utf16",
        "issues/file-binary-",
        "config/file-",
    ],
    "YAML tags that build Python objects": ["issues/tag-python-", "config/tag-python-"],
    "alias bombs": ["issues/alias-billion-laughs", "config/alias-billion-laughs"],
    "deep nesting": ["issues/nesting-", "config/nesting-"],
    "a number: that disagrees with the file name": ["issues/number-mismatch"],
    "two files for one number": ["issues/number-two-files"],
    "a broken template in templates/": ["templates/jinja-"],
    # issue 9
    "unsubscribe_url: http(s), mailto or a merge tag, never another scheme": ["config/url-unsubscribe-"],
    "explicit YAML tags with values outside their grammar": [
        "issues/tag-standard-bad-values",
        "config/tag-standard-bad-values",
    ],
    "line numbers as an editor shows them": [
        "issues/line-control-character-after-multibyte",
        "issues/line-nel-",
        "issues/line-empty-block-scalar-at-end",
        "issues/line-unclosed-flow-at-end",
    ],
    "issue file names: accepted, or an error saying why": [
        "issues/number-file-name-spellings",
        "issues/number-bad-file-names",
    ],
    "symlink loops and links out of the newsletter": [
        "issues/symlink-loop",
        "issues/symlink-dangling",
        "templates/symlink-",
    ],
    # issue 21
    "local images: missing, not an image, over 10 MB, a path or symlink out of images/, at src's line": [
        "newsletter/image-missing",
        "newsletter/image-not-an-image",
        "newsletter/image-too-large",
        "newsletter/image-path-dotdot",
        "newsletter/image-path-absolute",
        "newsletter/image-symlink-out",
        "newsletter/image-symlink-folder-out",
    ],
    "template errors at run time, at the template's line": [
        *(
            f"templates/jinja-runtime-{k}"
            for k in (
                "self-include",
                "division-by-zero",
                "type-error",
                "percent-format",
                "strftime",
                "cycler",
                "unbounded-allocation",
            )
        ),
    ],
    "a template that is not UTF-8; MJML errors from an override, with a line": [
        "templates/file-not-utf8",
        "templates/mjml-",
    ],
}


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_has_cases(rule: str) -> None:
    ids = [c.id for c in CASES]
    missing = [prefix for prefix in RULES[rule] if not any(i.startswith(prefix) for i in ids)]
    assert not missing, f"no case tests {rule!r}: {missing}"
