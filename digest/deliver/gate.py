"""`digest check`: the pre-send gate, in one round.

Rules:
- Everything is reported at once: validation, rendering and the clip gate for every
  issue (from :func:`digest.pipeline.build.check`), then, for the issues being prepared,
  the link ledger, the subject and preheader, and with ``links`` the link audit.
- The issues being prepared are the newest one and every draft, unless numbers are given:
  the archive's past issues cannot be changed and would bury the new one's warnings.
- Errors fail the check; warnings fail it only with ``strict``.
"""

from __future__ import annotations

from dataclasses import dataclass

from digest.core.config import CONFIG_FILE
from digest.core.errors import DigestError, Problem, strict_failures
from digest.core.loading import Node, decode, parse
from digest.core.models import Config
from digest.deliver import ledger

SUBJECT_CHARS = 80  # inboxes cut a longer subject, phones at about 40
PREHEADER_CHARS = 140  # the preview text most inboxes show after the subject


@dataclass
class Outcome:
    issues: int  # issues that validated and rendered
    checked: list[int]  # the issues the ledger (and --links) covered
    warnings: list[Problem]
    prepared: list[str]  # those issues' files: their warnings are printed in full


def check(
    config: Config,
    *,
    jobs: int | None = None,
    strict: bool = False,
    links: bool = False,
    numbers: tuple[int, ...] = (),
    timeout: float | None = None,
) -> Outcome:
    """Run the gate; raise DigestError with every problem when it fails."""
    from digest.pipeline import build
    from digest.pipeline.stages import read_sources

    sources = read_sources(config)  # naming and reading problems: reported alone, as by build
    problems: list[Problem] = []
    count = 0
    try:
        report = build.check(config, jobs=jobs, sources=sources)
        problems += report.warnings
        count = report.issues
    except DigestError as e:
        problems += e.problems
    files = [ledger.read(s.number, s.rel, text) for s in sources if (text := decode(s.data, s.rel)[0]) is not None]
    known = {f.number for f in files}
    missing = [n for n in numbers if n not in known]
    if missing:
        problems += [Problem("issues", None, f"there is no issue {n}") for n in missing]
    checked = sorted(set(numbers) & known) if numbers else _prepared(files)
    problems += ledger.duplicates(files, checked, config.ledger_history)
    problems += [p for f in files if f.number in checked for p in _subject_and_preheader(config, f)]
    if checked:
        problems += send_blockers(config)
    if links:
        from digest.core.cachedir import newsletter_cache
        from digest.deliver import links as audit

        chosen = [f for f in files if f.number in checked]
        problems += audit.audit(chosen, newsletter_cache(config.root), **({"timeout": timeout} if timeout else {}))
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    if strict and (fatal := strict_failures(problems)):
        raise DigestError(fatal)
    prepared = sorted(f.rel for f in files if f.number in checked)
    return Outcome(count, checked, sorted(problems, key=lambda p: (p.path, p.line or 0, p.key)), prepared)


def _prepared(files: list[ledger.IssueLinks]) -> list[int]:
    """The newest issue and every draft."""
    drafts = [f.number for f in files if _value(f.fields.get("draft")) is True]
    published = [f.number for f in files if f.number not in drafts]
    return sorted(set(drafts) | set(published[-1:]))


def _value(node: Node | None) -> object:
    return None if node is None else node.value


def _subject_and_preheader(config: Config, f: ledger.IssueLinks) -> list[Problem]:
    out = []
    subject_node = f.fields.get("subject") or f.fields.get("title")
    subject = _value(subject_node)
    if not isinstance(subject, str):
        subject = config.issue_title.format(title=config.title, number=f.number)
    subject = " ".join(subject.split())
    key = "subject" if "subject" in f.fields else "title" if "title" in f.fields else ""
    line = subject_node.line if subject_node is not None else None
    if len(subject) > SUBJECT_CHARS:
        what = "is" if key == "subject" else "is the subject (no subject: is set) and"
        out.append(
            Problem(
                f.rel,
                line,
                f"{what} {len(subject)} characters; inboxes cut a subject after about {SUBJECT_CHARS}",
                key,
                warning=True,
            )
        )
    # Without a preheader of its own an issue takes one from its intro or first item
    # (validation requires those), so only an editor's own can be too long.
    pre = f.fields.get("preheader")
    if pre is not None and isinstance(pre.value, str) and len(" ".join(pre.value.split())) > PREHEADER_CHARS:
        n = len(" ".join(pre.value.split()))
        out.append(
            Problem(
                f.rel,
                pre.line,
                f"is {n} characters; inboxes show about {PREHEADER_CHARS} after the subject",
                "preheader",
                warning=True,
            )
        )
    return out


PLACEHOLDER_URL = "https://example.org/"  # `digest init`'s default --url


def send_blockers(config: Config) -> list[Problem]:
    """What stops the issues being prepared from being sent, as errors at config.yaml's lines:
    a site URL still `digest init`'s placeholder; and, once the newsletter sends email (any
    email: setting, or a fresh init), no sender or no way to unsubscribe."""
    lines = _config_lines(config)
    problems = []
    fresh = config.url == PLACEHOLDER_URL
    if fresh:
        why = (
            "is still the placeholder `digest init` wrote: set it to where site/ is published (every link of the email"
            " points there)"
        )
        problems.append(Problem(CONFIG_FILE, lines.get("url"), why, "url"))
    e = config.email
    if fresh or any((e.from_, e.reply_to, e.unsubscribe_url, e.unsubscribe_mailto)):
        where = lines.get("email")
        if not e.from_:
            why = "is not set: the sender's name and address, which export, send and mailing services need"
            problems.append(Problem(CONFIG_FILE, where, why, "email.from"))
        if not e.unsubscribe_url:
            why = (
                "is not set: every email must offer a way out (a link, or your mailing service's merge tag such as"
                " *|UNSUB|*)"
            )
            problems.append(Problem(CONFIG_FILE, where, why, "email.unsubscribe_url"))
    return problems


def _config_lines(config: Config) -> dict[str, int]:
    """The lines of config.yaml's url and email keys (already validated: read leniently)."""
    try:
        text, _ = decode((config.root / CONFIG_FILE).read_bytes(), CONFIG_FILE)
    except OSError:
        return {}
    node = parse(text, CONFIG_FILE)[0] if text is not None else None
    return dict(node.key_lines) if node is not None and node.is_map else {}
