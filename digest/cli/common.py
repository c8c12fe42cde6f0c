"""The command group, the options and outcomes every command shares, and how problems are printed."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from digest import __version__
from digest.core.errors import DigestError, Problem

F = TypeVar("F", bound=Callable[..., Any])


def _common(func: F) -> F:
    """--root and --debug on every command; user errors become `path:line: message` and exit 1."""

    @click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="The newsletter folder (holds config.yaml and issues/).",
    )
    @click.option("--debug", is_flag=True, help="Show tracebacks.")
    @functools.wraps(func)
    def wrapper(*args: Any, root: Path, debug: bool, **kwargs: Any) -> Any:
        try:
            return func(*args, root=root, **kwargs)
        except DigestError as e:
            _print_problems(e.problems)
            errors = sum(p.errors for p in e.problems)
            # What did not happen, said only where something would have: check never writes (its
            # summary is the count alone), and a preview that could not start never writes either;
            # an error may know better (a message the SMTP server took, then no answer: unknown).
            outcome = f"; {e.outcome}" if e.outcome else _OUTCOMES.get(func.__name__, "; nothing was written")
            if errors:
                click.echo(f"{errors} error{'s' if errors != 1 else ''}{outcome}", err=True)
            else:  # only --strict fails on warnings alone
                warnings = len(e.problems)
                plural = "s" if warnings != 1 else ""
                click.echo(f"{warnings} warning{plural}, which --strict makes fatal{outcome}", err=True)
            if debug:
                traceback.print_exc()
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing was changed", err=True)
            sys.exit(130)
        except Exception as e:  # a bug in digest, not a user error
            if debug:
                raise
            click.echo(f"internal error: {type(e).__name__}: {e} (run again with --debug for the traceback)", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


_OUTCOMES = {
    "send": "; nothing was sent",
    "push": "; nothing was sent",
    "check": "",
    "serve": "; the preview did not start",
}


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        click.echo(str(p), err=True)


# `digest --help` lists the commands in the order of a week's work, each with a summary short
# enough not to be cut ("…") in 80 columns; a command not named here comes last.
_ORDER = ("init", "new", "add", "collect", "translate", "editions", "check", "serve", "build", "export", "send", "push")
_SUMMARIES = {
    "init": "Start a newsletter in a new folder, with a first draft.",
    "new": "Start the next issue as a draft.",
    "add": "Add a web page as an item of the newest draft.",
    "collect": "Add the new entries of feeds to the newest draft.",
    "translate": "Carry an issue into a local edition, to translate.",
    "editions": "What each local edition still lacks, issue by issue.",
    "check": "The pre-send gate: check every issue, writing nothing.",
    "serve": "Preview every issue, drafts included, in a browser.",
    "build": "Build the site: every issue, the archive and the feeds.",
    "export": "Write an issue as an .eml message, as send sends it.",
    "send": "Send an issue as a proof through SMTP.",
    "push": "Hand an issue to the mailing service as a draft.",
}


class _Commands(click.Group):
    """A click group listing commands in _ORDER with _SUMMARIES (Group.list_commands and
    Command.short_help are click's public API)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if cmd.short_help is None and name in _SUMMARIES:
            cmd.short_help = _SUMMARIES[name]
        super().add_command(cmd, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
def main() -> None:
    """Build a weekly curated newsletter from YAML: email HTML, plain text, web archive and feeds.

    \b
    Example:
      digest build            # build ./config.yaml + ./issues/ into ./site/
      digest check --root ~/my-digest
    """


_JOBS = click.option(
    "--jobs", "-j", type=click.IntRange(1, 256), default=None, help="Worker processes (default: one per core)."
)
_STRICT = click.option(
    "--strict", is_flag=True, help="Fail on warnings too (accessibility lint, clip and contrast warnings): for CI."
)


_EDITIONS = click.option(
    "--editions", is_flag=True, help="Every local edition (config.yaml's editions: with root:), errors in one round."
)
_STRICT_EDITIONS = click.option(
    "--strict", is_flag=True, help="Exit 1 when a published translation is missing items, stale or still marked."
)
_VERBOSE = click.option(
    "--verbose", "-v", is_flag=True, help="Print every warning in full, not only those of the issues being prepared."
)


def _print_warnings(warnings: list[Problem], prepared: list[str], verbose: bool) -> None:
    """Every warning of the issues being prepared (the newest, the drafts) and of config.yaml
    and the templates in full; for the rest of the archive, a count of each kind."""
    from digest.core.errors import fold_warnings

    shown, kinds = fold_warnings(warnings, lambda p: verbose or p.path in prepared or not p.path.startswith("issues/"))
    _print_problems(shown)
    if kinds:
        folded = len(warnings) - len(shown)
        click.echo(f"and {_plural(folded, 'warning')} in earlier issues (--verbose prints them):", err=True)
        for line in kinds:
            click.echo(f"  {line}", err=True)


def _warned(problems: list[Problem]) -> str:
    """The summary line's count: ", 3 warnings, 1 note" (notes fail nothing, not even --strict)."""
    notes = sum(p.note for p in problems)
    counts = [_plural(len(problems) - notes, "warning")] if len(problems) > notes else []
    return "".join(f", {c}" for c in counts + ([_plural(notes, "note")] if notes else []))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def _progress() -> Callable[[int, int], None] | None:
    """A progress bar on a terminal once a build has run for a second; nothing in pipes and CI."""
    import os
    import time

    if not sys.stdout.isatty() or os.environ.get("CI"):
        return None
    started = time.monotonic()
    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if time.monotonic() - started < 1.0:
                return
            bar = click.progressbar(length=total, label="rendering", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return update
