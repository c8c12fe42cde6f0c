"""Fuzzing (issue 9): mutated newsletters get exit 0, or exit 1 with well-formed messages.

A seeded generator mutates a valid newsletter (its issue files, config.yaml, file names,
symlinks and template overrides) the way a hurried editor, a bad paste or a hostile
contributor would, then runs the real CLI on it in-process.  For every case:

- the exit status is 0 or 1, never 2 (an internal error), and nothing prints a traceback;
- on exit 1 every stderr line is ``path:line: message`` (or ``path: message`` where no
  line exists) naming a file of the newsletter, with a line the file has, then the summary;
- a failed build leaves the previous site byte for byte as it was.

The budget is fixed (CASES cases from SEED), so a run takes the same time and finds the
same things; DIGEST_FUZZ_CASES and DIGEST_FUZZ_SEED widen or move the search by hand.
The budget is set so that it catches a known crash: with the explicit-tag grammar check
in digest/core/loading.py disabled (``!!bool maybe`` reaching PyYAML's constructor), 5 of
the 240 cases exit 2; 80 cases caught none.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main

BASE = Path(__file__).resolve().parent / "fixtures" / "hostile" / "base"
CASES = int(os.environ.get("DIGEST_FUZZ_CASES", "240"))
SEED = int(os.environ.get("DIGEST_FUZZ_SEED", "9"))
SENTINEL = b"the previous site: a failed build must leave it as it is\n"

ISSUE = """\
date: 2024-01-05
title: Weekly – ٢٦٣ – هفتگی
intro: |
  Hello *readers*, see [the news](https://example.com/n).
sections:
  - title: News
    items:
      - title: A good item
        url: https://example.com/a
        summary: >
          A *short* blurb with
          [a link](https://example.com/b).
        image: {src: "https://example.com/i.png", alt: A chart}
      - title: Second
        url: https://example.com/c
        date: 2024-01-04
outro: Thanks.
"""
CONFIG = """\
title: Hostile Weekly
url: https://hostile.example.org/
language: en
email:
  unsubscribe_url: "*|UNSUB|*"
theme:
  brand_color: "#1f5fa8"
  icon: https://hostile.example.org/icon.png
feed:
  items: 5
"""

# What gets inserted into YAML text: tags, anchors, structure, hostile characters.
INSERTS = [
    "!!bool ", "!!timestamp ", "!!int ", "!!float ", "!!null ", "!!str ", "!!binary ", "!!set ", "!!map ", "!!seq ",
    "!!python/object/apply:os.system ", "!custom ", "&a ", "*a ", "<<: *a\n", "? ", "- ", ": ", " #", "\t", "'", '"', "[", "]", "{", "}",
    "{{ x }}", "*|UNSUB|*", "%", "\\", "|\n", ">\n", "---\n", "...\n", "\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\ufeff",
    "\x00", "\x07", "\x1b", "\x7f", "\ud7ff", "\ufffe", "é", "ج", "👩‍💻", "\u200f", "javascript:alert(1)", "data:text/html,x",
    "mailto:", "maybe", "not-a-date", "2024-02-30", "1e999", "0x", "~", "null", "yes", "-1", "99999999999999999999",
]
VALUES = ["", "~", "[]", "{}", "[a, b]", "{a: 1}", "1", "1.5", "true", "2024-13-01", '"x"', "|\n  text", "!!bool maybe", "!!timestamp x",
          "!!int x", "!!float x", "!!null x", "!!timestamp 2024-02-30", "!!int 0o9", "!!bool", "!!str [a]", "!!binary x", "*nope", "&a x", "javascript:alert(1)", '"{{ UnsubscribeURL }}"', "%unsubscribe_url%", "ftp://x", "'''", "\"\\q\""]
KEYS = ["date", "title", "sections", "items", "url", "summary", "draft", "number", "updated", "image", "src", "alt", "language",
        "unsubscribe_url", "icon", "logo", "items", "brand_color", "timezone", "issue_title", "words", "why", "unknown"]
NAMES = ["0002.yaml", "0002.YAML", "0003.yaml ", " 0003.yaml", "0004.yaml~", "٢٦٥.yaml", "２６５.yaml", "3.yml", "issue-5.yaml",
         "0001.yaml.bak", ".0006.yaml.swp", "#0007.yaml#", "README.md", "0008", "0009.json", "01.yaml", "1.yaml", "0000000010.yaml"]
TEMPLATES = {
    "issue.html": ["{{ 1/0 }}", "{{ issue.number + 'x' }}", "{% include 'issue.html' %}", "{{ cycler() }}", "{{ '%d' % 'x' }}",
                   "{{ issue.date.strftime(1) }}", "{{ nope }}", "{% if %}", "{{ issue.title|nofilter }}", "{% include 'missing.html' %}",
                   "\ufeff<p>{{ issue.title }}</p>", "<p>{{ issue.title }}</p>", "{{ issue.sections[9] }}", "{{ range(3)|list }}",
                   '{% extends "_base.html" %}{% block main %}\n{% include "issue.html" %}{% endblock %}'],
    "email.mjml": ["\ufeff<mjml><mj-body><mj-section><mj-column><mj-text>{{ issue.title }}</mj-text></mj-column></mj-section></mj-body></mjml>",
                   "<mjml>\n<mj-body>\n<mj-section>\n<mj-column>\n<mj-text>x</mj-text>\n</mj-column>\n</mj-body>\n</mjml>\n",
                   "<mjml><mj-body>{{ 1/0 }}</mj-body></mjml>", "<mjml><mj-body>{% include 'email.mjml' %}</mj-body></mjml>", "not mjml"],
    "email.txt": ["{{ issue.title }}\n", "{{ issue.title / 2 }}", "{{ unsubscribe_url.x }}"],
}


def mutate_text(rng: random.Random, text: str) -> str:
    """One to three edits anywhere in a YAML text: an insertion, a deleted or doubled line, a cut."""
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        kind = rng.random()
        if kind < 0.45:
            at = rng.randint(0, len(text))
            text = text[:at] + rng.choice(INSERTS) + text[at:]
        elif kind < 0.7:  # a value replaced, where a line has "key: value"
            i = rng.randrange(len(lines))
            if ": " in lines[i]:
                key, _, _ = lines[i].partition(": ")
                lines[i] = f"{key}: {rng.choice(VALUES)}"
            text = "\n".join(lines)
        elif kind < 0.8:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i] if rng.random() < 0.5 else f"{' ' * rng.choice([0, 2, 4, 6, 8])}{rng.choice(KEYS)}: {rng.choice(VALUES)}")
            text = "\n".join(lines)
        elif kind < 0.9:
            del lines[rng.randrange(len(lines))]
            text = "\n".join(lines)
        else:
            text = text[: rng.randint(0, len(text))]
    return text


def make_case(rng: random.Random, root: Path) -> str:
    """A mutated newsletter in ``root``; returns what was done, for the failure message."""
    shutil.copytree(BASE, root)
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "issues" / "0001.yaml").write_text(ISSUE, encoding="utf-8")
    done = []
    what = rng.random()
    if what < 0.5:
        (root / "issues" / "0001.yaml").write_bytes(mutate_text(rng, ISSUE).encode("utf-8", "surrogatepass"))
        done.append("issue text")
    elif what < 0.7:
        (root / "config.yaml").write_bytes(mutate_text(rng, CONFIG).encode("utf-8", "surrogatepass"))
        done.append("config text")
    elif what < 0.85:
        (root / "templates").mkdir()
        name = rng.choice(sorted(TEMPLATES))
        (root / "templates" / name).write_text(rng.choice(TEMPLATES[name]), encoding="utf-8")
        done.append(f"template {name}")
    else:
        name = rng.choice(NAMES)
        shape = rng.random()
        path = root / "issues" / name
        if shape < 0.6:
            path.write_text(ISSUE if rng.random() < 0.5 else mutate_text(rng, ISSUE), encoding="utf-8")
        elif shape < 0.8 and not path.exists():
            os.symlink(name, path)  # a link to itself
        elif not path.exists():
            os.symlink("../../outside.yaml", path)
        done.append(f"file {name!r}")
    return ", ".join(done)


_LINE = re.compile(r"(?P<path>(?:issues|templates|config\.yaml)(?:/[^\n]*?)?)(?::(?P<line>\d+))?: (?P<message>\S.*)")
_SUMMARY = re.compile(r"\d+ errors?; nothing was written")


def editor_lines(path: Path) -> int | None:
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return max(1, len(re.split(r"\r\n|\r|\n", text.removesuffix("\n").removesuffix("\r"))))


def site_of(root: Path) -> dict[str, bytes]:
    site = root / "site"
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}


def test_mutated_newsletters_get_a_clear_outcome(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    (tmp_path / "outside.yaml").write_text(ISSUE, encoding="utf-8")  # what the links out of a newsletter point at
    failures = []
    outcomes = {0: 0, 1: 0}
    for n in range(CASES):
        root = tmp_path / f"case{n}"
        what = make_case(rng, root)
        command = "build" if n % 3 == 0 else "check"
        if command == "build":
            (root / "site").mkdir()
            (root / "site" / "index.html").write_bytes(SENTINEL)
            (root / "site" / ".digest-site").write_bytes(SENTINEL)  # a site digest built: a build may replace it
        before = site_of(root) if command == "build" else {}
        result = CliRunner().invoke(main, [command, "--root", str(root), "--jobs", "1"], catch_exceptions=True)
        problem = _verdict(root, result.exit_code, result.stderr, result.exception)
        outcomes[result.exit_code] = outcomes.get(result.exit_code, 0) + 1
        if problem is None and command == "build" and result.exit_code == 1 and site_of(root) != before:
            problem = "a failed build changed site/"
        if problem:
            failures.append(f"case {n} ({what}; digest {command}): {problem}\n{result.stderr}")
        shutil.rmtree(root, ignore_errors=True)
    assert not failures, f"{len(failures)} of {CASES} cases (seed {SEED}):\n" + "\n".join(failures[:5])
    # The generator itself must stay useful: some cases still build, most are refused.
    assert outcomes[0] >= CASES // 20 and outcomes[1] >= CASES // 2, outcomes


def _verdict(root: Path, code: int, stderr: str, exception: BaseException | None) -> str | None:
    """None if the outcome is acceptable, else what is wrong with it."""
    if "Traceback" in stderr:
        return "printed a traceback"
    if code not in (0, 1):
        return f"exit {code}" + (f" ({type(exception).__name__}: {exception})" if exception and not isinstance(exception, SystemExit) else "")
    if code == 0:
        return None
    lines = stderr.splitlines()
    if not lines or not _SUMMARY.fullmatch(lines[-1]):
        return "no summary line"
    for line in lines[:-1]:
        m = _LINE.fullmatch(line)
        if m is None:
            return f"not a path:line: message line: {line!r}"
        if m.group("line"):
            count = editor_lines(root / m.group("path"))
            if count is not None and not 1 <= int(m.group("line")) <= count:
                return f"line {m.group('line')} is not a line of {m.group('path')} ({count} lines): {line!r}"
    return None


# Template overrides (issue 20): random Jinja and MJML snippets as the newsletter's templates.
# Each case runs the real CLI in a subprocess, under a 1 GiB address-space limit: a template
# can crash the interpreter (MRML's stack overflow is a SIGSEGV), and an in-process run would
# take the test down with it.  The outcome must be exit 0, or exit 1 with path:line messages.
TEMPLATE_CASES = int(os.environ.get("DIGEST_FUZZ_TEMPLATE_CASES", "60"))
TEMPLATE_HANG = 60  # seconds: a guard against hangs only; a case that reaches it has no time bound
TEMPLATE_ATOMS = [
    "issue.title", "issue.number", "issue.date", "issue.sections", "issue.items", "config.title", "config.root", "config",
    "t", "t.why", "'x'", "'%s'", "''", "'{}'", "42", "-1", "0", "10**10", "10**4", "2**64", "[1, 'a']", "(1, 2)", "{'a': 1}",
    "range(3)", "range(10**5)", "none", "true", "cycler", "namespace", "lipsum", "self", "loop", "nope", "issue", "feed_urls",
]
TEMPLATE_ATTRS = [
    ".title", ".__class__", ".__init__", ".__globals__", ".__subclasses__()", ".mro()", ".root", ".items()", ".upper()",
    ".format(1)", ".center(10**10)", ".join(range(3)|map('string'))", "[0]", "[1:]", "['a']", ".isoformat()", ".read_text()",
]
TEMPLATE_FILTERS = [
    "e", "upper", "length", "list", "join(',')", "center(10**10)", "indent(10**6)", "replace('', 'xy')", "batch(10**10, 'x')",
    "markdown", "markdown_inline", "title", "title_text", "wrap", "tojson", "string", "first", "format_date", "digits",
    "striptags", "truncate(5)", "wordwrap(2)", "sum", "sort", "unique", "dir_auto", "underline", "format(1)", "int", "attr('root')",
    "map(attribute='__class__')", "default('d')", "safe", "urlize", "xmlattr", "pprint", "batch(2)", "random",
]
TEMPLATE_OPS = [" * ", " + ", " ~ ", " ** ", " % ", " - ", " / ", " // ", " and ", " or ", " == ", " in "]
MJML_TAGS = ["mj-wrapper", "mj-section", "mj-column", "mj-text", "mj-group", "div", "p", "table", "mj-raw", "mj-button", "mj-hero"]


def template_expr(rng: random.Random, depth: int = 0) -> str:
    kind = rng.random()
    if depth > 2 or kind < 0.35:
        return rng.choice(TEMPLATE_ATOMS)
    if kind < 0.55:
        return template_expr(rng, depth + 1) + rng.choice(TEMPLATE_ATTRS)
    if kind < 0.75:
        return f"({template_expr(rng, depth + 1)})|{rng.choice(TEMPLATE_FILTERS)}"
    return f"({template_expr(rng, depth + 1)}{rng.choice(TEMPLATE_OPS)}{template_expr(rng, depth + 1)})"


def template_body(rng: random.Random, depth: int = 0) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        inner = template_body(rng, depth + 1) if depth < 3 else "x"
        if kind < 0.3:
            parts.append(f"{{{{ {template_expr(rng)} }}}}")
        elif kind < 0.45:
            parts.append(f"{{% for v in {template_expr(rng)} %}}{inner}{{% endfor %}}")
        elif kind < 0.55:
            parts.append(f"{{% if {template_expr(rng)} %}}{inner}{{% else %}}{{{{ v }}}}{{% endif %}}")
        elif kind < 0.62:
            parts.append(f"{{% set v = {template_expr(rng)} %}}{inner}")
        elif kind < 0.8:  # MJML or HTML nested, once or many times over
            tag, times = rng.choice(MJML_TAGS), rng.choice([1, 2, 30, 300, 5000])
            if times == 1:
                parts.append(f"<{tag}>{inner}</{tag}>")
            else:
                parts.append(f"{{% for i in range({times}) %}}<{tag}>{{% endfor %}}{inner}{{% for i in range({times}) %}}</{tag}>{{% endfor %}}")
        elif kind < 0.87:
            parts.append(f"{{% macro m(n) %}}{{% if n > 0 %}}{{{{ m(n - 1) }}}}{{{{ m(n - 1) }}}}{{% endif %}}{{% endmacro %}}{{{{ m({rng.choice([2, 10, 80])}) }}}}")
        elif kind < 0.93:
            parts.append(rng.choice(["{% include 'email.txt' %}", "{% extends '_base.html' %}", "{% block main %}b{% endblock %}", "{{", "{% for %}", "</mj-body>", "&nbsp;", "\x0b"]))
        else:
            parts.append(rng.choice(["text", "\n", "<mj-text>", "{{ issue.title }}", "{# c #}"]))
    return "".join(parts)


def make_template_case(rng: random.Random, root: Path) -> str:
    shutil.copytree(BASE, root)
    (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "issues" / "0001.yaml").write_text(ISSUE, encoding="utf-8")
    (root / "templates").mkdir()
    name = rng.choice(["email.mjml", "email.mjml", "email.txt", "issue.html", "_content.html", "archive.html"])
    body = template_body(rng)
    if name == "email.mjml" and rng.random() < 0.8:
        body = f"<mjml><mj-body><mj-section><mj-column><mj-text>\n{body}\n</mj-text></mj-column></mj-section></mj-body></mjml>\n"
        if rng.random() < 0.5:
            body = body.replace("<mj-section>", "").replace("</mj-section>", "").replace("<mj-column>", "").replace("</mj-column>", "").replace("<mj-text>\n", "\n").replace("\n</mj-text>", "\n")
    (root / "templates" / name).write_text(body, encoding="utf-8", errors="surrogatepass")
    return f"templates/{name}: {body[:300]!r}"


def _memory_limited() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.slow
def test_random_template_overrides_get_a_clear_outcome(tmp_path: Path) -> None:
    """Random template overrides: a good build or a clean user error, never a crash, a hang or a
    traceback.  Budget: TEMPLATE_CASES cases from SEED.  On the code before issue 20 (e08a1ab)
    the default budget catches 1 of the 60 cases: case 51, a macro that calls itself twice,
    80 deep, in _content.html, still running at the hang guard (no time bound on templates)."""
    import subprocess
    import sys

    rng = random.Random(SEED)
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONIOENCODING": "utf-8", "DIGEST_TEMPLATE_SECONDS": "5"}
    failures, outcomes = [], {0: 0, 1: 0}
    for n in range(TEMPLATE_CASES):
        root = tmp_path / f"tcase{n}"
        what = make_template_case(rng, root)
        command = "build" if n % 4 == 0 else "check"
        try:
            done = subprocess.run([sys.executable, "-m", "digest", command, "--root", str(root), "--jobs", "1"], capture_output=True,
                                  text=True, env=env, preexec_fn=_memory_limited, timeout=TEMPLATE_HANG)
        except subprocess.TimeoutExpired:
            failures.append(f"case {n} ({what}; digest {command}): still running after {TEMPLATE_HANG} s")
            continue
        outcomes[done.returncode] = outcomes.get(done.returncode, 0) + 1
        problem = _verdict(root, done.returncode, done.stderr, None)
        if problem:
            failures.append(f"case {n} ({what}; digest {command}): {problem}\n{done.stderr[-2000:]}")
        shutil.rmtree(root, ignore_errors=True)
    assert not failures, f"{len(failures)} of {TEMPLATE_CASES} cases (seed {SEED}):\n" + "\n".join(failures[:5])
    assert outcomes[0] >= 1 and outcomes[1] >= TEMPLATE_CASES // 3, outcomes
