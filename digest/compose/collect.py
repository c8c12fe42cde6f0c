"""`digest collect`: new feed entries → items at the end of the newest draft.

Rules:
- An entry is new when it is dated after the latest published issue (or on or after
  --since), its normalised link is in no issue, and collect never offered it before.
- What was offered is kept in LEDGER, a sorted plain-text file of normalised links in
  the newsletter folder, meant to be committed: a candidate the curator deleted is not
  offered again next week, and a second run adds nothing.
- Conditional GET: each feed's ETag and Last-Modified are kept in the cache folder;
  they are saved only after the issue was written, so a failed run loses no entries.
  They are sent only when this run admits no older entries than the run that learnt
  them ("not modified" says nothing about entries that run skipped as too old, which
  an earlier --since now asks for).  They live in this user's cache folder for the
  newsletter (digest.core.cachedir), never in the newsletter: a copy that came with it is never read.
- With no published issue and no --since, entries from the last DEFAULT_DAYS days are
  new (a weekly newsletter's week), and a note says so and how to reach further back.
- An entry whose date cannot be read is undated (skipped, as every undated entry is),
  with a note naming it and what the feed wrote.
- A URL that gives a web page instead of a feed is followed to the feed the page names
  in <link rel="alternate" type="application/rss+xml"> (or Atom, or JSON Feed), with a note.
- Titles are the feed's text: escaped (digest.compose.escape) so they show as written.
- One broken feed is reported and the others are still collected.
- The issue, then the ledger, then the cache: each replaced atomically, the issue only
  when it passes validation.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from digest.compose.edit import Batch, Fields, save_issue, write_atomic
from digest.compose.escape import escape_markdown
from digest.compose.feeds import Entry, FeedError, parse_feed
from digest.compose.lock import issues_locked
from digest.compose.net import TIMEOUT, FetchError, fetch, user_agent
from digest.compose.target import issue_files, known_links, last_published, target_issue
from digest.core.cachedir import newsletter_cache
from digest.core.config import load_config
from digest.core.errors import DigestError, Problem
from digest.core.markdown import url_problem
from digest.core.urls import normalize_url, strip_tracking

DEFAULT_DAYS = 7
LEDGER = "collected.txt"
CONDITIONS = "collect-feeds.json"  # in this user's cache folder for the newsletter
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, application/xml;q=0.8,"
    " */*;q=0.1"
)


@dataclass
class FeedReport:
    feed: str
    added: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    error: str | None = None  # one line: the feed and what went wrong
    not_modified: bool = False
    notes: list[str] = field(default_factory=list)  # "FEED: note: …", printed after the report

    def __str__(self) -> str:
        if self.error:
            return self.error
        if self.not_modified:
            return f"{self.feed}: not modified since the last collect"
        reasons = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0])))
        skipped = sum(self.skipped.values())
        return f"{self.feed}: added {self.added}, skipped {skipped}" + (f" ({reasons})" if reasons else "")


@dataclass
class Collected:
    rel: str  # the issue file
    reports: list[FeedReport]
    ledger_error: str | None = None  # the items were added, but the ledger could not record them
    note: str | None = None  # the default window, when no issue is published yet

    @property
    def failed(self) -> bool:
        return self.ledger_error is not None or any(r.error for r in self.reports)


def collect(
    root: Path,
    feeds: list[str],
    *,
    issue: int | None = None,
    section: str | None = None,
    since: dt.date | None = None,
    timeout: float = TIMEOUT,
) -> Collected:
    config = load_config(root)
    sources: list[tuple[str, str | None]] = [(f, None) for f in feeds] or [(s.url, s.section) for s in config.sources]
    if not sources:
        raise DigestError(
            [
                Problem(
                    "config.yaml",
                    None,
                    "no feeds to collect: name one (digest collect URL) or list them under sources:",
                    "sources",
                )
            ]
        )
    files = issue_files(root)
    target = target_issue(files, issue)
    cutoff, inclusive = (since, True) if since is not None else (last_published(files), False)
    note = None
    if cutoff is None:
        # Nothing published yet: "everything dated" would be a feed's whole history.
        cutoff, inclusive = dt.date.today() - dt.timedelta(days=DEFAULT_DAYS), True
        note = (
            f"note: no issue is published yet, so entries from the last {DEFAULT_DAYS} days (since"
            f" {cutoff.isoformat()}) are new; --since DATE reaches further back"
        )
    known = known_links(files)
    offered = read_ledger(root)
    # The earliest entry date this run takes ("": any): what a feed's validators were learnt under.
    admits = (cutoff if inclusive else cutoff + dt.timedelta(days=1)).isoformat()
    conditions = _read_conditions(root)
    learnt: dict[str, dict[str, str]] = {}
    agent = user_agent(config.url)
    batches: dict[str | None, Batch] = {}
    reports = []
    for feed, feed_section in sources:
        report = FeedReport(feed)
        reports.append(report)
        try:
            data, base, condition = _read(root, feed, agent, _usable(conditions.get(feed), admits), timeout, report)
        except FetchError as e:
            report.error = str(e)
            continue
        if data is None:
            report.not_modified = True
            continue
        try:
            parsed = parse_feed(data, base)
        except FeedError as e:
            report.error = f"{feed}: {e}"
            continue
        if condition:
            learnt[feed] = {**condition, "admits": admits}
        batch = batches.setdefault(section or feed_section, Batch(section or feed_section))
        for entry in parsed.entries:
            url = strip_tracking(entry.url.strip()) if entry.url else None
            if not url or url_problem(url, allow_mailto=False):
                report.skipped["without an http(s) link"] += 1
                continue
            key = normalize_url(url)
            if key in known:
                report.skipped["already in an issue"] += 1
            elif key in offered:
                report.skipped["offered before"] += 1
            elif entry.date is None:
                report.skipped["undated"] += 1
                if entry.bad_date is not None:
                    report.notes.append(
                        f"{feed}: note: {url} has a date that cannot be read ({entry.bad_date!r}): it was skipped as"
                        " undated"
                    )
            elif entry.date < cutoff if inclusive else entry.date <= cutoff:
                report.skipped[f"{'before' if inclusive else 'not after'} {cutoff.isoformat()}"] += 1
            elif not entry.title and not entry.summary:
                report.skipped["without a title or summary"] += 1
            else:
                offered.add(key)
                batch.items.append(_fields(entry, url, parsed.title))
                report.added += 1
    chosen = [b for b in batches.values() if b.items]
    if chosen:
        # The issue and the ledger under one hold of the issues lock: a concurrent add or collect
        # waits, and the ledger keeps what another collect recorded meanwhile.
        with issues_locked(target.path.parent):
            save_issue(config, target.number, target.path, target.rel, chosen)
            try:
                write_ledger(root, read_ledger(root) | offered)
            except DigestError as e:
                # The issue is written (the items are safe there); only the memory of them is missing.
                why = "; ".join(str(p) for p in e.problems)
                lost = f"{why}: the items are in {target.rel}, but if you delete one, the next collect offers it again"
                return Collected(target.rel, reports, lost, note)
    if learnt:
        _write_conditions(root, {**conditions, **learnt})
    return Collected(target.rel, reports, note=note)


def read_ledger(root: Path) -> set[str]:
    path = root / LEDGER
    if path.is_symlink():  # refused before anything is written, so the issue and the ledger stay in step
        raise DigestError([Problem(LEDGER, None, "is a symlink; collect replaces only a plain file of its own")])
    if not path.is_file():
        return set()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        raise DigestError(
            [Problem(LEDGER, None, f"cannot be read ({why or e}); it lists the links collect has offered, one a line")]
        ) from None
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}


def write_ledger(root: Path, links: set[str]) -> None:
    path = root / LEDGER
    before = path.read_bytes() if path.is_file() else None
    write_atomic(path, "".join(f"{link}\n" for link in sorted(links)).encode("utf-8"), before, LEDGER)


def _fields(entry: Entry, url: str, feed_title: str | None) -> Fields:
    fields: Fields = {}
    if entry.title:
        fields["title"] = escape_markdown(entry.title)
    fields["url"] = url
    if feed_title:
        fields["source"] = feed_title
    if entry.author:
        fields["author"] = entry.author
    if entry.date:
        fields["date"] = entry.date
    if entry.summary:
        # A paragraph linking back to the entry itself ("The post X appeared first on Y") says
        # nothing new, and `digest check` warns about the repeated link.
        kept = [
            p
            for p in entry.summary.split("\n\n")
            if f"]({url})" not in p and (not entry.url or f"]({entry.url})" not in p)
        ]
        if kept:
            fields["summary"] = "\n\n".join(kept)
    return fields


def _read(
    root: Path, feed: str, agent: str, known: dict[str, str] | None, timeout: float, report: FeedReport
) -> tuple[bytes | None, str, dict[str, str]]:
    """The feed's bytes (None: not modified), the URL it came from, and the conditions to send next time."""
    if "://" not in feed:  # a file
        path = Path(feed).expanduser()
        try:
            return path.read_bytes(), path.resolve().as_uri(), {}
        except OSError as e:
            raise FetchError(feed, f"cannot read it: {e.strerror or e}") from None
    conditional = {}
    if known and known.get("etag"):
        conditional["If-None-Match"] = known["etag"]
    if known and known.get("last_modified"):
        conditional["If-Modified-Since"] = known["last_modified"]
    r = fetch(feed, agent=agent, accept=ACCEPT, conditional=conditional, timeout=timeout)
    if r.status == 304:
        return None, r.url, {}
    if r.media_type in ("text/html", "application/xhtml+xml") and (alternate := feed_link(r.body, r.url)):
        report.notes.append(
            f"{feed}: note: is a web page; read the feed it names, {alternate} (name that to skip this step)"
        )
        r = fetch(alternate, agent=agent, accept=ACCEPT, timeout=timeout)
        return r.body, r.url, {}  # validators of another URL than the one named: not kept
    learnt = {k: v for k, v in (("etag", r.etag), ("last_modified", r.last_modified)) if v}
    return r.body, r.url, learnt


_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")


def feed_link(body: bytes, page_url: str) -> str | None:
    """The first feed a web page names in <link rel="alternate" type="…">, made absolute; RSS, Atom, JSON Feed."""
    from urllib.parse import urljoin

    import lxml.html  # type: ignore[import-untyped]
    from lxml.etree import ParserError  # type: ignore[import-untyped]

    from digest.compose.meta import encoding_of

    try:
        root = lxml.html.document_fromstring(
            body.decode(encoding_of(body, None), errors="replace").encode("utf-8"),
            parser=lxml.html.HTMLParser(encoding="utf-8"),
        )
    except (ParserError, ValueError):
        return None
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = (link.get("href") or "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            try:
                url = urljoin(page_url, href)
            except ValueError:
                continue
            if not url_problem(url, allow_mailto=False):
                return url
    return None


def _usable(known: dict[str, str] | None, admits: str) -> dict[str, str] | None:
    """The validators to send, if a "not modified" would lose nothing this run admits."""
    if known is None or "admits" not in known:
        return None
    learnt_under = known["admits"]
    return known if learnt_under == "" or (admits != "" and admits >= learnt_under) else None


def _read_conditions(root: Path) -> dict[str, dict[str, str]]:
    """The cache of validators (anything unexpected in it is ignored)."""
    try:
        data = json.loads((newsletter_cache(root) / CONDITIONS).read_bytes())
    except (OSError, ValueError, DigestError):
        return {}
    if not isinstance(data, dict) or data.get("version") != 2 or not isinstance(data.get("feeds"), dict):
        return {}
    return {
        url: {k: v for k, v in c.items() if k in ("etag", "last_modified", "admits") and isinstance(v, str)}
        for url, c in data["feeds"].items()
        if isinstance(url, str) and isinstance(c, dict)
    }


def _write_conditions(root: Path, conditions: dict[str, dict[str, str]]) -> None:
    try:
        path = newsletter_cache(root) / CONDITIONS
        before = path.read_bytes() if path.is_file() else None
        write_atomic(path, json.dumps({"version": 2, "feeds": conditions}).encode("utf-8"), before)
    except (OSError, DigestError):
        pass  # the cache only saves requests
