"""Template overrides run in Jinja2's sandbox (issue 20, item 1): a template that reaches for
Python's internals, a shell, a file or the environment is refused at its line, by ``check``
and ``build`` alike, and nothing it reached for runs or lands in any output.

Each case runs the real CLI in a subprocess, with a secret in its environment and a marker
file that the template's shell command would create: afterwards the marker must not exist,
and neither the secret nor /etc/hostname may be in any file the build wrote."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, SENTINEL

pytestmark = pytest.mark.slow  # hostile templates: each case runs the CLI in its own process

SECRET = "s3cr3t-digest-sandbox-probe-7f1c"

# Each template line (written as line 2 of the override, after a comment) and the exact
# message it must get.  {marker} is the file a shell command would create.
ESCAPES: dict[str, tuple[str, str]] = {
    "popen-through-globals": (
        "{{ cycler.__init__.__globals__.os.popen('touch {marker}; id').read() }}",
        "access to attribute '__init__' of 'type' object is unsafe.",
    ),
    "subclasses": (
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "access to attribute '__class__' of 'str' object is unsafe.",
    ),
    "lipsum-globals": (
        "{{ lipsum.__globals__['os'].system('touch {marker}') }}",
        "'lipsum' is undefined",  # not there at all: its text is random (builds are byte-identical)
    ),
    "os-environ": ("{{ os.environ }}", "'os' is undefined"),
    "open": ("{{ open('/etc/hostname').read() }}", "'open' is undefined"),
    "import": ("{{ __import__('os').system('touch {marker}') }}", "'__import__' is undefined"),
    "config-root-path": (
        "{{ config.root.joinpath('/etc/hostname').read_text() }}",
        "access to attribute 'root' of 'Config' object is unsafe.",
    ),
    "config-root-by-item": ("{{ config['root'] }}", "access to attribute 'root' of 'Config' object is unsafe."),
    "config-root-attr-filter": (
        "{{ config|attr('root') }}",
        "access to attribute 'root' of 'Config' object is unsafe.",
    ),
    "format-field-internals": (
        "{{ '{0.__class__.__mro__}'.format(issue) }}",
        "access to attribute '__class__' of 'Issue' object is unsafe.",
    ),
    "map-attribute-internals": (
        "{{ [issue]|map(attribute='__class__')|list }}",
        "access to attribute '__class__' of 'Issue' object is unsafe.",
    ),
    "self-context": (
        "{{ self._TemplateReference__context }}",
        "access to attribute '_TemplateReference__context' of 'TemplateReference' object is unsafe.",
    ),
    "mutating-a-list": ("{{ [1].append(2) }}", "access to attribute 'append' of 'list' object is unsafe."),
}


def digest(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8", "DIGEST_PROBE": SECRET}
    return subprocess.run(
        [sys.executable, "-m", "digest", *args, "--root", str(root)], capture_output=True, text=True, env=env
    )


def written(root: Path) -> bytes:
    """Every byte of every file under the newsletter folder (the site, the cache, anything else)."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())


def hostname() -> bytes | None:
    try:
        name = Path("/etc/hostname").read_bytes().strip()
    except OSError:
        return None
    return name if len(name) >= 4 else None  # a name that short could match anything


# Every case in the text email (check and build), and the shell command in every kind of
# template (the email's MJML and the web page are autoescaped: the sandbox must not depend on it).
MATRIX = [(case, "email.txt", command) for case in ESCAPES for command in ("check", "build")] + [
    ("popen-through-globals", template, "build")
    for template in ("email.mjml", "issue.html", "archive.html", "_content.html")
]


@pytest.mark.parametrize(("case", "template", "command"), MATRIX, ids=["-".join(m) for m in MATRIX])
def test_a_template_that_reaches_for_code_files_or_the_environment_is_refused(
    news: Path, case: str, template: str, command: str
) -> None:
    marker = news.parent / "ran-a-shell-command"
    line, message = ESCAPES[case]
    (news / "templates" / template).write_text(
        "{# an override that tries to leave the sandbox #}\n" + line.replace("{marker}", str(marker)) + "\n"
    )
    done = digest(news, command)
    outcome = "; nothing was written" if command == "build" else ""  # check never writes: its summary is the count
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"templates/{template}:2: template error: {message}\n1 error{outcome}\n",
    )
    assert not marker.exists()
    assert (news / "site" / "index.html").read_bytes() == SENTINEL
    everything = written(news)
    assert SECRET.encode() not in everything
    if (name := hostname()) is not None:
        assert name not in everything


def test_no_global_or_filter_hands_out_a_path_module_or_class() -> None:
    """What digest puts into every template's namespace: plain values, our frozen models and
    functions; no pathlib.Path (it reads and writes files), module or open file."""
    import io
    import types
    from pathlib import PurePath

    from digest.core.config import load_config
    from digest.render.environment import make_env

    config = load_config(REPO)
    env = make_env(config)
    assert env.sandboxed
    for name, value in env.globals.items():
        assert not isinstance(value, (PurePath, types.ModuleType, io.IOBase)), name
    for name, value in env.filters.items():
        assert callable(value) and not isinstance(value, (PurePath, types.ModuleType)), name
    template = env.from_string("{{ config.root }}")
    from jinja2.sandbox import SecurityError

    with pytest.raises(SecurityError):
        template.render()


def test_the_built_in_templates_still_render_in_the_sandbox(news: Path) -> None:
    shutil.rmtree(news / "templates")
    done = digest(news, "build")
    assert done.returncode == 0, done.stderr
    assert (news / "site" / "issues" / "1" / "email.html").is_file()


def test_printing_the_config_does_not_tell_where_the_newsletter_lives(news: Path) -> None:
    """Not code, but a leak all the same: {{ config }} printed the folder's absolute path."""
    (news / "templates" / "email.txt").write_text("{{ config }}\n")
    done = digest(news, "build")
    assert done.returncode == 0, done.stderr
    text = (news / "site" / "issues" / "1" / "email.txt").read_text(encoding="utf-8")
    assert "Config(" in text and "Hostile Weekly" in text and str(news) not in text


@pytest.mark.parametrize(
    ("body", "message"),
    [("{{ [1, 2, 3] | random }}", "No filter named 'random'."), ("{{ lipsum(1) }}", "'lipsum' is undefined")],
    ids=["random", "lipsum"],
)
def test_nothing_random_is_offered_to_templates(news: Path, body: str, message: str) -> None:
    """Builds are byte-identical: a template cannot make output that differs from one build to the next."""
    (news / "templates" / "email.txt").write_text("{# random #}\n" + body + "\n")
    done = digest(news, "check")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"templates/email.txt:2: template error: {message}"), done.stderr
