"""Which issues the local sibling editions publish, so that an issue page links its issue in another edition
(switcher, hreflang, the email's footer) only where that edition has it.

Rules:
- Only editions with ``root:`` (local) and ``same_numbers: true`` are looked at; any other keeps today's rule
  (same_numbers: every number is taken to exist there).
- An issue is published there when its file is in that edition's issues/ and is not a draft.  Only a file that
  mentions ``draft`` is parsed (to read its draft: key): every other file is published, and is not read as YAML,
  so a build with siblings costs a folder listing per edition.
- A sibling's problems (a misnamed file, one that does not parse) are its own build's to report: here such a
  file is simply not counted as published.
"""

from __future__ import annotations

import dataclasses

from digest.core.issuefiles import discover
from digest.core.loading import parse
from digest.core.models import Config, Edition


def with_siblings(config: Config) -> Config:
    """``config`` with each local same_numbers sibling's published issue numbers (Edition.issues)."""
    if not any(e.root is not None and e.same_numbers and e.url != config.url for e in config.editions):
        return config
    editions = tuple(
        dataclasses.replace(e, issues=published_numbers(e))
        if e.root is not None and e.same_numbers and e.url != config.url
        else e
        for e in config.editions
    )
    return dataclasses.replace(config, editions=editions)


def published_numbers(edition: Edition) -> frozenset[int]:
    """The numbers of the issues that ``edition`` (a local one) publishes."""
    assert edition.root is not None
    files, _ = discover(edition.root)
    numbers = set()
    for number, path, rel in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"draft" in data and is_draft(data, rel) is not False:
            continue
        numbers.add(number)
    return frozenset(numbers)


def is_draft(data: bytes, rel: str) -> bool | None:
    """An issue file's ``draft:`` (False when it has none); None when the file does not parse."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    node, _ = parse(text, rel)
    if node is None or not node.is_map:
        return None
    draft = node.value.get("draft")  # type: ignore[attr-defined]
    return draft is not None and draft.value is True
