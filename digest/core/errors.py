"""User-facing problems: every one names a file, a line when there is one, and a key path."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    path: str  # relative to the newsletter root where possible
    line: int | None  # 1-based; None where no line exists (a file that is not text)
    message: str
    key: str = ""  # key path such as "sections[1].items[2].url"
    warning: bool = False
    hidden: int = 0  # for a "N more errors are not shown" line: the N errors it stands for
    # A note is a warning that fails nothing, not even --strict: it describes work in
    # progress that reaches no reader (an empty draft), so a pull request adding a fresh
    # `digest new` draft passes `digest check --strict`.
    note: bool = False

    @property
    def errors(self) -> int:
        """How many errors this line reports (0 for a warning)."""
        return 0 if self.warning else max(1, self.hidden)

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        prefix = "note: " if self.note else "warning: " if self.warning else ""
        return f"{where}: {prefix}{self.key + ': ' if self.key else ''}{self.message}"


def strict_failures(problems: list[Problem]) -> list[Problem]:
    """What --strict fails on: every problem but the notes."""
    return [p for p in problems if not p.note]


class DigestError(Exception):
    """One or more problems in the user's input; the CLI prints them and exits 1."""

    def __init__(self, problems: list[Problem], outcome: str | None = None) -> None:
        self.problems = sorted(problems, key=_order)
        # What the command did despite the error, when not "nothing was written/sent" (a message
        # the SMTP server took but never acknowledged may still be delivered).
        self.outcome = outcome
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type, tuple[list[Problem], str | None]]:
        # Raised inside build worker processes, so it must survive pickling whole.
        return (DigestError, (self.problems, self.outcome))


def _order(p: Problem) -> tuple[str, int, str]:
    return (p.path, p.line or 0, p.key)


_VARYING = re.compile(
    r'"[^"]*"|“[^”]*”|«[^»]*»|\S*\d\S*'
)  # quoted text and numbers: what differs between warnings of a kind


def fold_warnings(problems: list[Problem], full: Callable[[Problem], bool]) -> tuple[list[Problem], list[str]]:
    """The problems to print in full (errors, and the warnings ``full`` picks), and one line
    per kind for the other warnings, most frequent first: ``"290 × link text … does not say where it goes"``."""
    shown = [p for p in problems if not p.warning or full(p)]
    kinds = Counter(_kind(p) for p in problems if p.warning and not full(p))
    return shown, [f"{n:,} × {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))]


def _kind(p: Problem) -> str:
    key = re.sub(r"\[\d+\]", "", p.key)  # sections[1].items[2].summary → sections.items.summary
    return f"{key + ': ' if key else ''}{_VARYING.sub('…', p.message)}"
