"""The command line: a thin click layer over the library API in :mod:`digest.build`."""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .errors import DigestError, Problem

F = TypeVar("F", bound=Callable[..., Any])


def _common(func: F) -> F:
    """--root and --debug on every command; user errors become `path:line: message` and exit 1."""

    @click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="The newsletter folder (holds config.yaml and issues/).")
    @click.option("--debug", is_flag=True, help="Show tracebacks.")
    @functools.wraps(func)
    def wrapper(*args: Any, root: Path, debug: bool, **kwargs: Any) -> Any:
        try:
            return func(*args, root=root, **kwargs)
        except DigestError as e:
            _print_problems(e.problems)
            errors = sum(1 for p in e.problems if not p.warning)
            click.echo(f"{errors} error{'s' if errors != 1 else ''}; nothing was written", err=True)
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


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        click.echo(str(p), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
def main() -> None:
    """Build a weekly curated newsletter from YAML: email HTML, plain text, web archive and feeds.

    \b
    Example:
      digest build            # build ./config.yaml + ./issues/ into ./site/
      digest check --root ~/my-digest
    """


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Output folder (default: ROOT/site).")
@_common
def build(root: Path, out: Path | None) -> None:
    """Build every issue, the archive and the feeds into site/.

    The previous site is replaced only when the whole build succeeds.

    \b
    Example:
      digest build --root . --out public
    """
    from .build import build as run_build

    report = run_build(root, out)
    _print_problems(report.warnings)
    target = out if out is not None else root / "site"
    click.echo(f"built {report.issues:,} issue{'s' if report.issues != 1 else ''} ({report.published:,} published) into {target} in {report.seconds:.1f} s")


@main.command()
@_common
def check(root: Path) -> None:
    """Validate and render every issue without writing anything.

    Exits 1 and lists every problem as path:line: message.

    \b
    Example:
      digest check --root ~/my-digest
    """
    from .build import check as run_check

    report = run_check(root)
    _print_problems(report.warnings)
    click.echo(f"checked {report.issues:,} issue{'s' if report.issues != 1 else ''}: no errors")
