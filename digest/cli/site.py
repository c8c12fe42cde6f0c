"""The commands that check, preview and build the site: check, serve, build."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import (
    _EDITIONS,
    _JOBS,
    _STRICT,
    _VERBOSE,
    _common,
    _plural,
    _print_warnings,
    _progress,
    _warned,
    main,
)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder (default: ROOT/site).")
@_JOBS
@_STRICT
@click.option(
    "--verify", is_flag=True, help="Write every file of the site again, trusting nothing the last build recorded."
)
@_VERBOSE
@_EDITIONS
@_common
def build(
    root: Path, out: Path | None, jobs: int | None, strict: bool, verify: bool, verbose: bool, editions: bool
) -> None:
    """Build every issue, the archive and the feeds into site/.

    The previous site is replaced only when the whole build succeeds. Issues that
    have not changed since the last build come from the build cache (in ~/.cache/digest/).

    \b
    Example:
      digest build --root . --out public
      digest build --verify   # after restoring a backup, or if files were edited in place
      digest build --editions --out public   # every local edition: public/, public/fa/, public/ar/...
    """
    from digest.core.config import load_config
    from digest.pipeline.build import build as run_build

    if editions:
        from digest.editions.family import load_family
        from digest.editions.run import build_family

        family = load_family(root)
        done = build_family(family, out, jobs=jobs, strict=strict, verify=verify)
        _print_warnings(done.warnings, done.prepared, verbose)
        into = f" into {out}" if out is not None else ""
        click.echo(
            f"built {_plural(done.editions, 'edition')}{into}: {_plural(done.issues, 'issue')} ({done.changed:,}"
            f" changed) in {done.seconds:.1f} s{_warned(done.warnings)}"
        )
        return

    report = run_build(load_config(root), out, jobs=jobs, progress=_progress(), strict=strict, verify=verify)
    _print_warnings(report.warnings, report.prepared, verbose)
    click.echo(
        f"built {_plural(report.issues, 'issue')} ({report.changed:,} changed) in {report.seconds:.1f}"
        f" s{_warned(report.warnings)}"
    )


@main.command()
@_JOBS
@_STRICT
@click.option(
    "--links",
    is_flag=True,
    help=(
        "Also request every link of the issues checked (HEAD, then GET), reporting broken and moved ones; results are"
        " kept a day in the build cache."
    ),
)
@click.option(
    "--issue",
    "numbers",
    type=int,
    multiple=True,
    metavar="N",
    help=(
        "Issues for the link ledger, the subject checks and --links (default: the newest and every draft); repeatable."
    ),
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 120),
    default=None,
    help="Seconds --links waits for each server (default 10).",
)
@_VERBOSE
@_EDITIONS
@_common
def check(
    root: Path,
    jobs: int | None,
    strict: bool,
    links: bool,
    numbers: tuple[int, ...],
    timeout: float | None,
    verbose: bool,
    editions: bool,
) -> None:
    """The pre-send gate: validate and render every issue without writing anything.

    Reports everything in one round as path:line: message: validation, templates and
    Gmail's clip limit for every issue; for the newest issue and the drafts (or the
    --issue ones), links already used in the issue or in the previous 25 issues
    (check.history in config.yaml), and long subjects and preheaders.  Errors exit 1;
    warnings too with --strict.  Only --links uses the network.

    \b
    Example:
      digest check --root ~/my-digest
      digest check --strict --links   # before sending, and in CI
      digest check --editions         # every local edition (editions: entries with root:)
    """
    from digest.core.config import load_config
    from digest.deliver.gate import check as run_check

    if editions:
        from digest.editions.family import load_family
        from digest.editions.run import check_family

        family = load_family(root)
        done = check_family(family, jobs=jobs, strict=strict, links=links, numbers=numbers, timeout=timeout)
        _print_warnings(done.warnings, done.prepared, verbose)
        click.echo(
            f"checked {_plural(done.editions, 'edition')}, {_plural(done.issues, 'issue')}: no"
            f" errors{_warned(done.warnings)}"
        )
        return

    outcome = run_check(load_config(root), jobs=jobs, strict=strict, links=links, numbers=numbers, timeout=timeout)
    _print_warnings(outcome.warnings, outcome.prepared, verbose)
    click.echo(f"checked {_plural(outcome.issues, 'issue')}: no errors{_warned(outcome.warnings)}")


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; the default keeps the preview on this machine.",
)
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0 picks a free one)."
)
@click.option(
    "--watch/--no-watch", default=True, show_default=True, help="Update when config.yaml, issues/ or templates/ change."
)
@click.option("--read-only", is_flag=True, help="Preview only: no editor, nothing is ever written.")
@_common
def serve(root: Path, host: str, port: int, watch: bool, read_only: bool) -> None:
    """Preview every issue, drafts included, as readers will get it, and edit them.

    Open / for every issue (drafts first) and /preview/<number>/ for an issue's email
    at phone and desktop widths, light and dark, with its plain text, inbox line,
    size, warnings and links.  The site is rendered into memory: serving never writes
    site/ (drafts cannot leak into it).  While it watches, an edit re-renders only that
    issue and open pages reload; errors show on every page until they are fixed.
    /edit/<number>/ edits an issue in the browser (fields, add link, collect, move,
    publish, commit): only what is edited changes in its YAML file.

    \b
    Example:
      digest serve --port 8001
      digest serve --read-only
    """
    from digest.preview.serve import serve as run_serve

    run_serve(root, host, port, watch, read_only)
