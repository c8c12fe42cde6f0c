"""The shared check for URL-valued settings (digest.core.urls), as every config key uses it."""

from __future__ import annotations

import pytest

from digest.core.urls import MERGE_TAG_EXAMPLES, scheme, url_problem

MERGE_TAGS = ["*|UNSUB|*", "{{ UnsubscribeURL }}", "{{ unsubscribe_url }}", "%unsubscribe_url%", "[unsubscribe]", "<%asm_group_unsubscribe_raw_url%>", "%%unsubscribe_url%%"]
URLS = ["https://example.org/u?id=*|UNIQID|*", "http://example.org/", "mailto:leave@example.org?subject=unsubscribe"]
# Spellings a browser still reads as the scheme: case, leading spaces and controls, tabs and newlines inside.
REFUSED_SCHEMES = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "java\nscript:alert(1)", "\x01javascript:x", "data:text/html,<b>", "vbscript:msgbox", "file:///etc/passwd", "ftp://example.org/"]


@pytest.mark.parametrize("value", MERGE_TAGS + URLS)
def test_unsubscribe_accepts_urls_mailto_and_merge_tags(value: str) -> None:
    assert url_problem(value, mailto=True, merge_tag=True) is None


@pytest.mark.parametrize("value", REFUSED_SCHEMES)
def test_any_other_scheme_is_refused_however_it_is_spelt(value: str) -> None:
    why = url_problem(value, mailto=True, merge_tag=True)
    assert why is not None and why.startswith("must be an http(s) or mailto URL")


def test_the_message_names_what_is_allowed() -> None:
    assert url_problem("javascript:alert(1)", mailto=True, merge_tag=True) == (
        f"must be an http(s) or mailto URL or a mailing service's merge tag such as {MERGE_TAG_EXAMPLES} (text with no scheme), got 'javascript:alert(1)'"
    )
    assert url_problem("example.org/leave", mailto=True, merge_tag=True) == (
        f"must be a full URL (like https://example.org/leave) or a merge tag such as {MERGE_TAG_EXAMPLES}, got 'example.org/leave'"
    )


@pytest.mark.parametrize("value", MERGE_TAGS + ["mailto:a@example.org", "javascript:x"])
def test_plain_url_keys_take_http_only(value: str) -> None:
    assert url_problem(value) is not None


def test_scheme_is_read_as_a_browser_reads_it() -> None:
    assert scheme(" \tJava\nScript:x") == "javascript"
    assert scheme("{{ unsubscribe:url }}") is None
    assert scheme("*|UNSUB|*") is None
