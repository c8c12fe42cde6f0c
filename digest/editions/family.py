"""The local family: the newsletter at --root and the editions its config.yaml names with ``root:``.

Rules:
- The source edition is the first listed under ``editions:`` (the x-default); the others are its translations.
  The family can be loaded from any of its members whose config.yaml names the source's root (or is the source).
- Each member is loaded with its own config.yaml, exactly as a command run in its folder would load it: what the
  family's commands make of an edition is what that edition's own commands make.
- Problems keep their file's name, behind the member's folder as seen from --root (``../persian/issues/0263.yaml``),
  so that the errors of every edition are reported together and each says where it is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from digest.core.config import CONFIG_FILE, load_config
from digest.core.errors import DigestError, Problem
from digest.core.loading import decode, parse
from digest.core.models import Config, Edition


@dataclass(frozen=True)
class Member:
    edition: Edition
    config: Config
    label: str  # its folder as seen from --root: "" for --root itself, else "../persian"

    @property
    def language(self) -> str:
        return self.edition.language

    def shown(self, rel: str) -> str:
        """A path of this member's as seen from --root."""
        return f"{self.label}/{rel}" if self.label else rel

    def problems(self, problems: list[Problem]) -> list[Problem]:
        """``problems`` named from --root."""
        return [relabel(p, self.label) for p in problems]


@dataclass(frozen=True)
class Family:
    root: Config  # the newsletter at --root
    members: tuple[Member, ...]  # the source first, then the translations in the order of editions:

    @property
    def source(self) -> Member:
        return self.members[0]

    @property
    def translations(self) -> tuple[Member, ...]:
        return self.members[1:]

    def member(self, language: str) -> Member | None:
        return next((m for m in self.members if m.language.lower() == language.lower()), None)


def relabel(p: Problem, label: str) -> Problem:
    return replace(p, path=f"{label}/{p.path}") if label else p


def load_family(root: Path) -> Family:
    """The family of the newsletter at ``root``; every member's config problems are reported together."""
    config = load_config(root)
    if not any(e.root is not None and e.url != config.url for e in config.editions):
        line = config_lines(config.root).get("editions")
        why = (
            "names no local edition: give an edition the folder of its newsletter, e.g. root: ../persian (relative to"
            " this one)"
        )
        raise DigestError([Problem(CONFIG_FILE, line, why, "editions")])
    source = (
        config.editions[0]
        if config.x_default is None
        else next(e for e in config.editions if e.url == config.x_default)
    )
    if source.root is None:
        why = f"the source edition ({source.language}, listed first) has no root: the family is read from its folder"
        raise DigestError([Problem(CONFIG_FILE, config_lines(config.root).get("editions"), why, "editions")])
    ordered = [source, *(e for e in config.editions if e is not source and e.root is not None)]
    members: list[Member] = []
    problems: list[Problem] = []
    here = config.root.resolve()
    for edition in ordered:
        assert edition.root is not None
        label = _label(here, edition.root)
        try:
            member_config = config if edition.root == here else load_config(edition.root)
        except DigestError as e:
            problems += [relabel(p, label) for p in e.problems]
            continue
        if member_config.url != edition.url:
            line = config_lines(edition.root).get("url")
            why = f"is {member_config.url}, but the editions: entry whose root is this folder says {edition.url}"
            problems.append(relabel(Problem(CONFIG_FILE, line, why, "url"), label))
            continue
        members.append(Member(edition, member_config, label))
    if problems:
        raise DigestError(problems)
    return Family(config, tuple(members))


def _label(here: Path, folder: Path) -> str:
    rel = os.path.relpath(folder, here)
    return "" if rel == "." else Path(rel).as_posix()


def prefix(family: Family, member: Member) -> str | None:
    """Where ``member`` lives in the combined tree: its url's path below the source's url ("fa/"), "" for the
    source; None when its url is not below the source's."""
    base, url = urlsplit(family.source.edition.url), urlsplit(member.edition.url)
    if member is family.source:
        return ""
    if (url.scheme, url.netloc) != (base.scheme, base.netloc) or not url.path.startswith(base.path):
        return None
    rest = url.path[len(base.path) :]
    parts = rest.rstrip("/").split("/")
    if not rest or any(part in ("", ".", "..") or "%" in part for part in parts):
        return None
    return rest


def config_lines(root: Path) -> dict[str, int]:
    """The lines of config.yaml's top-level keys (the file is already validated: read leniently)."""
    try:
        text, _ = decode((root / CONFIG_FILE).read_bytes(), CONFIG_FILE)
    except OSError:
        return {}
    node = parse(text, CONFIG_FILE)[0] if text is not None else None
    return dict(node.key_lines) if node is not None and node.is_map else {}


def entry_line(root: Path, language: str) -> tuple[int, int] | None:
    """(place from 1, line) of the entry of ``editions:`` in ``language`` in config.yaml."""
    try:
        text, _ = decode((root / CONFIG_FILE).read_bytes(), CONFIG_FILE)
    except OSError:
        return None
    node = parse(text, CONFIG_FILE)[0] if text is not None else None
    entries = node.value.get("editions") if node is not None and node.is_map else None  # type: ignore[attr-defined]
    if entries is None or not entries.is_list:
        return None
    for index, entry in enumerate(entries.value, 1):
        lang = entry.value.get("language") if entry.is_map else None
        if lang is not None and isinstance(lang.value, str) and lang.value.strip().lower() == language.lower():
            return index, entry.line
    return None
