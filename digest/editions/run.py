"""`digest check --editions` and `digest build --editions`: every local edition in one command.

Rules:
- Each edition is checked and built exactly as its own `check` and `build` do it, with its own config.yaml,
  templates and build cache; so each edition's output is byte for byte what building it alone writes.
- Every edition's problems are reported in one round, named from --root; any error fails the whole command.
- Nothing is written before every edition has been validated and rendered: a failing edition leaves every site
  as it was.  With ``out``, the family is one tree (each edition at its url's path below the source's url: fa/,
  ar/) published in one step by digest.pipeline.publish, so a failure leaves the last good tree whole; without
  it, each edition's own site/ is published in turn once all are ready.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from digest.core.cachedir import newsletter_cache
from digest.core.config import CONFIG_FILE
from digest.core.errors import DigestError, Problem, strict_failures
from digest.editions.family import Family, entry_line, prefix
from digest.editions.status import issue_files
from digest.pipeline import output
from digest.pipeline.build import SITE_DIR, Plan, plan
from digest.pipeline.cache import Cache
from digest.pipeline.publish import Output, publish


@dataclass
class FamilyReport:
    editions: int = 0
    issues: int = 0
    changed: int = 0
    seconds: float = 0.0
    warnings: list[Problem] = field(default_factory=list)  # named from --root
    prepared: list[str] = field(default_factory=list)


def check_family(
    family: Family,
    *,
    jobs: int | None = None,
    strict: bool = False,
    links: bool = False,
    numbers: tuple[int, ...] = (),
    timeout: float | None = None,
) -> FamilyReport:
    """digest check (digest.deliver.gate) on every local edition; every problem in one round."""
    from digest.deliver.gate import check

    report = FamilyReport(len(family.members))
    problems: list[Problem] = []
    for member in family.members:
        # --issue N names the source's issue: an edition that has none of them is checked as without --issue.
        has = numbers if member is family.source or not numbers else issue_files(member)
        mine = tuple(n for n in numbers if n in has)
        try:
            outcome = check(member.config, jobs=jobs, strict=strict, links=links, numbers=mine, timeout=timeout)
        except DigestError as e:
            problems += member.problems(e.problems)
            continue
        report.issues += outcome.issues
        report.warnings += member.problems(outcome.warnings)
        report.prepared += [member.shown(rel) for rel in outcome.prepared]
    if any(not p.warning for p in problems):
        raise DigestError(problems + report.warnings)
    return report


def build_family(
    family: Family,
    out: Path | None = None,
    *,
    jobs: int | None = None,
    strict: bool = False,
    verify: bool = False,
) -> FamilyReport:
    """Build every local edition: into its own site/, or with ``out`` into one tree."""
    started = time.perf_counter()
    places = _places(family, out)
    caches = [Cache(newsletter_cache(m.config.root)) for m in family.members]
    problems: list[Problem] = []
    plans: list[Plan] = []
    report = FamilyReport(len(family.members))
    with contextlib.ExitStack() as stack:
        for member, cache in zip(family.members, caches, strict=True):
            stack.enter_context(output.locked(member.config.root, cache.folder))
        for member, cache, target in zip(family.members, caches, places, strict=True):
            try:
                site = plan(member.config, cache, target, jobs=jobs, strict=strict, verify=verify or out is not None)
            except DigestError as e:
                problems += member.problems(e.problems)
                continue
            plans.append(site)
            report.issues += site.report.issues
            report.changed += site.report.changed
            report.warnings += member.problems(site.report.warnings)
            report.prepared += [member.shown(rel) for rel in site.report.prepared]
        if problems:
            raise DigestError(problems + report.warnings)
        if strict and (fatal := strict_failures(report.warnings)):
            raise DigestError(fatal)
        if out is None:
            for site in plans:
                if site.files is not None:
                    site.done(publish(site.target, site.files, site.record, verify))
        else:
            _publish_tree(family, out.absolute(), plans, caches[0], verify)
    report.seconds = time.perf_counter() - started
    return report


def _places(family: Family, out: Path | None) -> list[Path]:
    """Each member's output folder: its own site/, or its place in the tree at ``out``; refused before anything
    is read when an edition has no place below the source's url, or an output folder is not one to replace."""
    if out is None:
        targets = [(m.config.root / SITE_DIR).absolute() for m in family.members]
        for member, target in zip(family.members, targets, strict=True):
            try:
                output.check_output(member.config.root, target)
            except DigestError as e:
                raise DigestError(member.problems(e.problems)) from None
        return targets
    tree = out.absolute()
    problems: list[Problem] = []
    for member in family.members:
        output.check_output(member.config.root, tree)
    places = []
    for member in family.members:
        path = prefix(family, member)
        if path is None:
            found = entry_line(family.root.root, member.language)
            where, line = (f"editions[{found[0]}].url", found[1]) if found else ("editions", None)
            why = (
                f"{member.edition.url} is not below the source edition's url {family.source.edition.url}: build"
                " --editions --out puts every edition at its url's path below the source's"
            )
            problems.append(Problem(CONFIG_FILE, line, why, where))
            continue
        places.append(tree / path if path else tree)
    if problems:
        raise DigestError(problems)
    return places


def _publish_tree(family: Family, tree: Path, plans: list[Plan], cache: Cache, verify: bool) -> None:
    """The editions' files as one site at ``tree``, published in one step; recorded in the source's build cache."""
    files: dict[str, Output] = {}
    for member, site in zip(family.members, plans, strict=True):
        assert site.files is not None  # verify: every plan lays its files out
        place = site.target.relative_to(tree).as_posix() if site.target != tree else ""
        for rel, made in site.files.items():
            name = f"{place}/{rel}" if place else rel
            if name in files:
                why = f"the {member.language} edition's {rel} is also another edition's {name}: give it its own url"
                raise DigestError([Problem(str(tree), None, why)])
            files[name] = made
    record = cache.site(tree)
    written = publish(tree, files, record, verify)
    cache.record_site(tree, {"site_key": "", "summary": {}, "files": written})
    for site in plans:
        site.done(None)
