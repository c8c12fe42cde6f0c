"""Templates without bounds (issue 20, items 7 and 8): what a template builds is bounded in size
before it is built, its render in time (DIGEST_TEMPLATE_SECONDS, lowered here so the tests are
quick), and the MJML it produces in nesting depth before MRML (which crashes on deep nesting)
sees it.  Each is an error at the template's line, exit 1, nothing written; every CLI run has
a 1 GiB address-space limit, so a bound that allocated first would fail with MemoryError."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SENTINEL

from digest.render.html import MAX_DEPTH, too_deep

# Hostile templates: each case runs the CLI in its own process, some up to their time bound.
pytestmark = pytest.mark.slow

MEMORY_LIMIT = 1 << 30
TIMEOUT = 120  # seconds: only a guard against hangs (a template without a time bound), not a performance assertion


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def digest(root: Path, *args: str, seconds: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8"}
    if seconds is not None:
        env["DIGEST_TEMPLATE_SECONDS"] = seconds
    return subprocess.run(
        [sys.executable, "-m", "digest", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=_limit_memory,
        timeout=TIMEOUT,
    )


def refused(
    news: Path, template: str, body: str, message: str, command: str = "check", seconds: str | None = None
) -> None:
    (news / "templates" / template).write_text("{# a template without bounds #}\n" + body + "\n")
    done = digest(news, command, seconds=seconds)
    outcome = "; nothing was written" if command == "build" else ""  # check never writes: its summary is the count
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"templates/{template}:2: {message}\n1 error{outcome}\n",
    )
    assert (news / "site" / "index.html").read_bytes() == SENTINEL


MIB = "larger than 16 MiB (a repetition without bound?)"
SIZES = {
    "repetition-9.8-GB": ("{{ 'a' * 10**10 }}", f"the repetition would be {MIB}"),
    "repetition-of-a-list": ("{{ [('x' * 1000000)] * 1000 }}", f"the repetition would be {MIB}"),
    "percent-width": ("{{ '%0999999999d' % 1 }}", f"the formatted text would be {MIB}"),
    "percent-star-width": ("{{ '%*d' % (10**10, 1) }}", f"the formatted text would be {MIB}"),
    "format-width": ("{{ '{:>10000000000}'.format(1) }}", f"the formatted text would be {MIB}"),
    "format-nested-width": ("{{ '{:>{}}'.format(1, 10**10) }}", f"the formatted text would be {MIB}"),
    "center-method": ("{{ 'x'.center(10**10) }}", f"the text would be {MIB}"),
    "center-filter": ("{{ 'x'|center(10**10) }}", f"the result of center would be {MIB}"),
    "indent-filter": ("{{ ('a\\n' * 1000)|indent(100000) }}", f"the result of indent would be {MIB}"),
    "replace-empty": ("{{ 'ab'|replace('', 'x' * 10000000) }}", f"the text would be {MIB}"),
    "join-product": ("{{ (range(100000)|list)|join('x' * 1000) }}", f"the joined text would be {MIB}"),
    "batch-fill": ("{{ range(1)|batch(10**10, 'x')|list }}", f"the result of batch would be {MIB}"),
    "doubling-with-tilde": (
        (
            "{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{"
            " ns.s|length }}"
        ),
        f"the joined text would be {MIB}",
    ),
    "doubling-in-a-macro": (
        "{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('x', 60) }}",
        f"the joined text would be {MIB}",
    ),
    "power": ("{{ 10 ** (10 ** 8) }}", "the power would have more than 65,536 bits"),
    "range": (
        "{% for i in range(10**10) %}{% endfor %}",
        "range() may count at most 100,000 numbers, not 10,000,000,000",
    ),
}


@pytest.mark.parametrize("case", SIZES)
def test_what_a_template_builds_is_bounded_before_it_is_built(news: Path, case: str) -> None:
    body, message = SIZES[case]
    refused(news, "email.txt", body, f"template error: {message}")


SLOW = (
    "template error: the template runs longer than 0.5 s (a loop without end?); DIGEST_TEMPLATE_SECONDS sets the limit"
)
RUNAWAYS = {
    # Two nested loops over a long text with no output: 10^10 iterations, no character printed.
    "nested-loops-without-output": "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
    "three-ranges": (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% for c in range(100000) %}{% endfor %}{% endfor %}{%"
        " endfor %}"
    ),
    # No loop at all: a macro that calls itself twice, 2^60 calls.
    "branching-macro": "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
    "recursive-loop": (
        "{% for x in [1] recursive %}{% if loop.depth < 4 %}{{ loop(range(100000)) }}{% endif %}{% endfor %}"
    ),
}


@pytest.mark.parametrize("command", ["check", "build"])
@pytest.mark.parametrize("case", RUNAWAYS)
def test_a_template_that_runs_without_end_is_stopped_at_its_line(news: Path, case: str, command: str) -> None:
    refused(news, "issue.html", RUNAWAYS[case], SLOW, command, seconds="0.5")


def test_the_time_limit_must_be_a_positive_number(news: Path) -> None:
    for bad in ("x", "0", "-1", "nan"):
        done = digest(news, "check", seconds=bad)
        assert (done.returncode, done.stderr) == (
            1,
            f"DIGEST_TEMPLATE_SECONDS: must be a positive number of seconds, got {bad!r}\n1 error\n",
        )


def test_the_built_in_templates_stay_within_a_small_time_limit(news: Path) -> None:
    shutil.rmtree(news / "templates")
    done = digest(news, "build", seconds="0.5")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("tag", ["mj-wrapper", "div"])
def test_mjml_nested_too_deep_is_refused_before_mrml_sees_it(news: Path, tag: str) -> None:
    # 5,000 nested <mj-wrapper> crash MRML with SIGSEGV (12,000 <div>s do too): refused at the line.
    wrap = f"{{% for i in range(20000) %}}<{tag}>{{% endfor %}}x{{% for i in range(20000) %}}</{tag}>{{% endfor %}}"
    inner = (
        f"<mj-section><mj-column><mj-text>{wrap}</mj-text></mj-column></mj-section>"
        if tag == "div"
        else f"{wrap.replace('x', '<mj-section><mj-column><mj-text>x</mj-text></mj-column></mj-section>')}"
    )
    body = f"<mjml><mj-body>\n{inner}\n</mj-body></mjml>"
    (news / "templates" / "email.mjml").write_text("{# too deep #}\n" + body + "\n")
    done = digest(news, "build")
    message = f"MJML cannot convert what this template produces: elements nested more than {MAX_DEPTH} deep (<{tag}>)"
    assert (done.returncode, done.stderr) == (1, f"templates/email.mjml:3: {message}\n1 error; nothing was written\n")


def test_nesting_is_counted_as_an_html_parser_would() -> None:
    deep = "<a>" * (MAX_DEPTH + 1)
    assert too_deep("<mjml>\n" + deep) == (2, "a")
    assert too_deep("<a>" * MAX_DEPTH) is None
    assert too_deep("<p>x" * (MAX_DEPTH + 5) + "</div>") == (1, "p")  # never closed: they do nest
    assert too_deep("<div>" + "<p>x</p>" * 1000 + "</div>") is None
    assert too_deep("<br>" * 1000 + "<img src=x>" * 1000 + "<mj-image src='x' />" * 1000) is None
    assert too_deep("<!--" + "<a>" * 1000 + "-->") is None
    assert too_deep('<a title="x>y">' * 10 + "</a>" * 10) is None
    # An end tag closes what is open down to its element: unclosed <p>s inside a <div> end with it.
    assert too_deep(("<div>" + "<p>x" * 150 + "</div>") * 10) is None
