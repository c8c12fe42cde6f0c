"""listmonk's side of `digest push`, with Go's real html/template (tests/fixtures/listmonk/render.go).

The campaign body digest sends, rendered as listmonk compiles it, must be byte for byte the email
`digest build` made: the text's braces as written, every HTML comment (Outlook's conditionals)
kept, the unsubscribe tag replaced. Without Go (Debian's golang-go) the test skips, unless
DIGEST_REQUIRE_GO=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from digest.core.config import load_config
from digest.deliver.push.listmonk import escape_braces, template_body
from digest.pipeline.build import render_one
from tests.mailing_servers import UNSUBSCRIBE_LINK

pytestmark = pytest.mark.slow  # compiles a Go program

RENDER = Path(__file__).resolve().parent / "fixtures" / "listmonk" / "render.go"
TEXTS = [
    "{{ .Name }}",
    "{{{{",
    "a {",
    "}}{{-",
    'x {{ "q" }} y',
    "{{{ UnsubscribeURL }}",
    '<!-- a {{ b }} comment --> and <!--[if mso]><td>{{x}}\n"q"</td><![endif]-->',
    "<!--[if !mso]><!--><meta x><!--<![endif]-->{",
    "<p>é 中文 \u200f \\ \" ' ` \x01</p><style>a{color:red}</style>",
    '<a href="{{ UnsubscribeURL }}">u</a><p>{{ .Subscriber.Name }} {{ template "x" }}</p>',
]


@pytest.fixture(scope="module")
def render(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        if os.environ.get("DIGEST_REQUIRE_GO") == "1":
            pytest.fail("go is not installed, but DIGEST_REQUIRE_GO=1 requires the listmonk rendering test to run")
        pytest.skip("go is not installed (apt-get install golang-go)")
    out = tmp_path_factory.mktemp("go")
    env = {**os.environ, "GO111MODULE": "off", "GOCACHE": str(out / "cache"), "GOPATH": str(out / "path")}
    subprocess.run(["go", "build", "-o", str(out / "render"), str(RENDER)], check=True, env=env, cwd=out)
    return out / "render"


def rendered(render: Path, body: str) -> str:
    done = subprocess.run([str(render)], input=body.encode(), capture_output=True, check=True)
    return done.stdout.decode()


@pytest.mark.parametrize("text", TEXTS)
def test_listmonk_renders_the_text_as_written(render: Path, text: str) -> None:
    assert rendered(render, template_body(text)) == text.replace("{{ UnsubscribeURL }}", UNSUBSCRIBE_LINK)


def test_listmonk_renders_every_example_email_exactly(render: Path, example: Path) -> None:
    config = load_config(example)
    for number in (41, 42, 43):
        _, html, text = render_one(config, number)
        assert "<!--[if mso" in html and "{{ UnsubscribeURL }}" in html
        assert rendered(render, template_body(html)) == html.replace("{{ UnsubscribeURL }}", UNSUBSCRIBE_LINK)
        assert rendered(render, template_body(text)) == text.replace("{{ UnsubscribeURL }}", UNSUBSCRIBE_LINK)
    # The reason for Safe: html/template drops comments, so braces escaped alone lose the conditionals.
    assert "<!--" not in rendered(render, escape_braces(html))
