"""UTM tagging (issue 12): utm_* parameters on the email's item and markdown links only."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import run

from digest.core.urls import add_parameters

UTM_CONFIG = """\
title: Test Weekly
url: https://test.example.org/
email:
  from: Test Weekly <news@test.example.org>
  unsubscribe_url: https://test.example.org/leave
utm:
  source: test-weekly
  medium: email
  campaign: "issue-{number:03}"
"""

UTM_ISSUE = """\
date: 2024-01-05
intro: "Read [the report](https://example.com/report?page=2#summary), write [to us](mailto:ed@example.org),
  leave [here too](http://www.test.example.org/leave/), see <https://example.org/auto>."
sections:
  - items:
      - title: First
        url: https://example.com/1?utm_source=partner
        image: {src: "https://example.com/i.png", alt: A chart}
      - title: Second
        url: https://example.com/2
        summary: "![a photo](https://example.com/photo.jpg) and [a merge-tag link](https://example.com/p?id=*|UNIQID|*)"
      - title: Third
        url: "https://example.com/3?who={{subscriber.uuid}}"
"""

TAGS = "utm_source=test-weekly&utm_medium=email&utm_campaign=issue-001"
HTML_TAGS = TAGS.replace("&", "&amp;")


@pytest.fixture
def site(newsletter: Callable[..., Path]) -> Path:
    root = newsletter(config=UTM_CONFIG, issues={"0001.yaml": UTM_ISSUE})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    return root / "site"


def test_the_email_html_tags_item_and_markdown_links_only(site: Path) -> None:
    html = (site / "issues/1/email.html").read_text(encoding="utf-8")
    assert html.count(f'href="https://example.com/2?{HTML_TAGS}"') == 1
    assert f'href="https://example.com/report?page=2&amp;{HTML_TAGS}#summary"' in html  # its query and fragment kept
    # A utm_* parameter the link has wins; the item's image links where its title does.
    assert (
        html.count('href="https://example.com/1?utm_source=partner&amp;utm_medium=email&amp;utm_campaign=issue-001"')
        == 2
    )
    assert re.search(
        rf'href="https://example\.org/auto\?{re.escape(HTML_TAGS)}"[^>]*>https://example\.org/auto</a>', html
    )  # the label as written
    assert 'href="mailto:ed@example.org"' in html
    assert 'href="http://www.test.example.org/leave/"' in html  # the unsubscribe page, however spelt
    assert 'href="https://test.example.org/leave"' in html  # the footer's unsubscribe link
    assert (
        'href="https://test.example.org/issues/1/"' in html and 'href="https://test.example.org/"' in html
    )  # the template's own
    assert 'href="https://example.com/p?id=*%7CUNIQID%7C*"' in html  # a merge tag: the service must find it as written
    assert 'href="https://example.com/3?who={{subscriber.uuid}}"' in html
    assert 'src="https://example.com/i.png"' in html and 'src="https://example.com/photo.jpg"' in html  # images never
    assert html.count("utm_medium=email") == 5


def test_the_text_email_writes_the_tagged_links(site: Path) -> None:
    text = (site / "issues/1/email.txt").read_text(encoding="utf-8")
    assert f"\nhttps://example.com/2?{TAGS}\n" in text
    assert f"(https://example.com/report?page=2&{TAGS}#summary)" in text
    assert (
        f"https://example.org/auto?{TAGS}." in text and "https://example.org/auto " not in text
    )  # an autolink once, tagged
    assert "\nhttps://example.com/1?utm_source=partner&utm_medium=email&utm_campaign=issue-001\n" in text
    assert "(http://www.test.example.org/leave/)" in text and "\nUnsubscribe: https://test.example.org/leave\n" in text
    assert "\nhttps://example.com/3?who={{subscriber.uuid}}\n" in text
    assert "View in your browser: https://test.example.org/issues/1/\n" in text
    assert text.count("utm_medium=email") == 4


def test_web_pages_and_feeds_keep_the_links_as_written(site: Path) -> None:
    page = (site / "issues/1/index.html").read_text(encoding="utf-8")
    assert 'href="https://example.com/2"' in page and 'href="https://example.com/1?utm_source=partner"' in page
    for name in ("issues/1/index.html", "index.html", "feed.xml", "atom.xml", "feed.json"):
        assert "utm_medium" not in (site / name).read_text(encoding="utf-8"), name


def test_the_exported_message_carries_the_tagged_links_in_both_parts(newsletter: Callable[..., Path]) -> None:
    root = newsletter(config=UTM_CONFIG, issues={"0001.yaml": UTM_ISSUE})
    out = root / "proof.eml"
    result = run("export", "1", "--root", str(root), "--out", str(out))
    assert result.exit_code == 0, result.output
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text, html = (part.get_content() for part in message.iter_parts())
    assert f"https://example.com/2?{TAGS}" in text and f'href="https://example.com/2?{HTML_TAGS}"' in html


def test_without_utm_links_are_left_as_written(newsletter: Callable[..., Path]) -> None:
    root = newsletter(config=UTM_CONFIG.split("utm:")[0], issues={"0001.yaml": UTM_ISSUE})
    assert run("build", "--root", str(root)).exit_code == 0
    html = (root / "site/issues/1/email.html").read_text(encoding="utf-8")
    text = (root / "site/issues/1/email.txt").read_text(encoding="utf-8")
    assert 'href="https://example.com/2"' in html and "\nhttps://example.com/2\n" in text
    assert "utm_medium" not in html + text


def test_only_the_parameters_given_are_added(newsletter: Callable[..., Path]) -> None:
    config = UTM_CONFIG.replace("  medium: email\n", "").replace('  campaign: "issue-{number:03}"\n', "")
    root = newsletter(config=config, issues={"0001.yaml": UTM_ISSUE})
    assert run("build", "--root", str(root)).exit_code == 0
    assert 'href="https://example.com/2?utm_source=test-weekly"' in (root / "site/issues/1/email.html").read_text(
        encoding="utf-8"
    )


def test_a_bad_campaign_is_an_error_at_its_line(newsletter: Callable[..., Path]) -> None:
    root = newsletter(config=UTM_CONFIG.replace("issue-{number:03}", "issue-{title}"))
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert result.stderr == "config.yaml:9: utm.campaign: may use only {number}, got {title}\n1 error\n"


@pytest.mark.parametrize(
    ("url", "tagged"),
    [
        ("https://example.com/", "https://example.com/?utm_source=s&utm_campaign=a%20b"),
        ("https://example.com", "https://example.com?utm_source=s&utm_campaign=a%20b"),
        ("https://example.com/?", "https://example.com/?utm_source=s&utm_campaign=a%20b"),
        ("https://example.com/a?x=1&", "https://example.com/a?x=1&utm_source=s&utm_campaign=a%20b"),
        (
            "https://example.com/a?x=%2F&y#frag?not=query",
            "https://example.com/a?x=%2F&y&utm_source=s&utm_campaign=a%20b#frag?not=query",
        ),
        ("https://example.com/a?utm_source=theirs", "https://example.com/a?utm_source=theirs&utm_campaign=a%20b"),
        ("https://example.com/a?utm%5Fcampaign=theirs", "https://example.com/a?utm%5Fcampaign=theirs&utm_source=s"),
        ("https://example.com/a?utm_source=x&utm_campaign=y", "https://example.com/a?utm_source=x&utm_campaign=y"),
        ("https://éxample.com/ünï?q=ü", "https://éxample.com/ünï?q=ü&utm_source=s&utm_campaign=a%20b"),
    ],
)
def test_parameters_go_after_the_query_and_before_the_fragment(url: str, tagged: str) -> None:
    assert add_parameters(url, (("utm_source", "s"), ("utm_campaign", "a b"))) == tagged


TITLE_LINKS_ISSUE = """\
date: 2024-01-05
sections:
  - title: "News from [the council](https://example.com/council)"
    items:
      - title: "A note on [the budget](https://example.com/budget?y=2024)"
        summary: No link of its own.
"""


def test_links_inside_titles_are_tagged_in_both_parts_of_the_email_only(newsletter: Callable[..., Path]) -> None:
    root = newsletter(config=UTM_CONFIG, issues={"0001.yaml": TITLE_LINKS_ISSUE})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    site = root / "site"
    html = (site / "issues/1/email.html").read_text(encoding="utf-8")
    assert f'href="https://example.com/council?{HTML_TAGS}"' in html
    assert f'href="https://example.com/budget?y=2024&amp;{HTML_TAGS}"' in html
    text = (site / "issues/1/email.txt").read_text(encoding="utf-8")
    assert f"(https://example.com/council?{TAGS})" in text
    assert f"(https://example.com/budget?y=2024&{TAGS})" in text
    page = (site / "issues/1/index.html").read_text(encoding="utf-8")
    assert 'href="https://example.com/council"' in page and 'href="https://example.com/budget?y=2024"' in page
    assert "utm_" not in page
