"""Template mistakes as user errors at their file and line (the build wraps rendering in template_errors())."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from digest.core.errors import DigestError, Problem
from digest.render.bounds import TemplateLimit
from digest.render.environment import BUILTIN_TEMPLATES, TemplateOutputTooLarge


class MjmlError(Exception):
    """MJML rejected the markup the email template produced."""


def template_path(filename: str | None) -> str:
    """How a problem names a template: templates/NAME, or the built-in file."""
    if not filename:
        return "templates"
    path = Path(filename).resolve()
    if path.is_relative_to(BUILTIN_TEMPLATES):
        return f"digest/render/templates/{path.name} (built-in)"
    return f"templates/{path.name}"


@contextmanager
def template_errors() -> Iterator[None]:
    """Turn a template mistake (syntax, unknown variable, missing include) into a
    DigestError naming the template file and line, like any other user error."""
    import jinja2

    try:
        yield
    except DigestError:
        raise
    except jinja2.TemplateSyntaxError as e:
        raise DigestError([Problem(template_path(e.filename), e.lineno, f"template error: {e.message}")]) from e
    except jinja2.TemplateError as e:
        # Jinja rewrites tracebacks so that frames inside a template carry its file
        # name and line: the innermost such frame is where the mistake is.
        filename, line = _blame(e)
        message = f"template {e.name!r} not found" if isinstance(e, jinja2.TemplateNotFound) else str(e.message or e)
        raise DigestError([Problem(template_path(filename), line, f"template error: {message}")]) from e
    except TemplateLimit as e:
        # A bound of bounds.py: the template's doing (or the limit set too low), built-in or not.
        filename, line = _blame(e)
        e.__traceback__ = e.__context__ = None
        raise DigestError([Problem(template_path(filename), line, f"template error: {e}")]) from None
    except Exception as e:  # noqa: BLE001 - sorted below: the user's template, or a bug in digest
        # A newsletter's own template can fail as it runs ({{ 1/0 }}, a bad strftime format,
        # an include of itself, a string of ten gigabytes): that is the user's error, at the
        # template's line.  The same in a built-in template is a bug in digest.
        filename, line = _blame(e)
        where = template_path(filename) if filename else ""
        if not where.startswith("templates/"):
            raise
        e.__traceback__ = e.__context__ = None  # let a huge allocation's frames go before reporting
        raise DigestError([Problem(where, line, f"template error: {_runtime_message(e)}")]) from None


def _runtime_message(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return "the template includes or calls itself without end"
    if isinstance(e, MemoryError):
        return "the template needs more memory than there is (a repetition or a loop without bound?)"
    if isinstance(e, TemplateOutputTooLarge):
        return str(e)
    text = str(e) or type(e).__name__
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{text} ({type(e).__name__})"


def _blame(e: BaseException) -> tuple[str | None, int | None]:
    """The template file and line to blame for ``e``.

    Rules: the innermost template frame, as for any error.  Out of memory, Jinja's own
    handling can fail in turn (it imports and compiles as it rewrites the traceback): then
    the frames are those of the first error, in its context.  A recursion or a lack of
    memory is the user's template's doing wherever it ends, so it is blamed on an override
    in the stack even if a built-in template (an override's ``{% extends %}``) is innermost;
    for a recursion, on the frame that enters its own file again (the include of itself)."""
    frames: list[tuple[str, int | None]] = []
    seen: BaseException | None = e
    for _ in range(4):  # the error, and what it was raised while handling
        if seen is None or (frames := _template_frames(seen.__traceback__)):
            break
        seen = seen.__context__
    if not frames:
        # Jinja computes constant output as it compiles ({{ "x" * 10**10 }}): no template
        # frame runs yet, but the compile names the file.
        return _compiling(e.__traceback__), None
    if not isinstance(e, (RecursionError, MemoryError)):
        return frames[-1]
    user = [i for i, (filename, _) in enumerate(frames) if template_path(filename).startswith("templates/")]
    if isinstance(e, RecursionError):
        again = [i for i in user if i + 1 < len(frames) and frames[i + 1][0] == frames[i][0]]
        if again:
            return frames[again[-1]]
    return frames[user[-1]] if user else frames[-1]


def _compiling(tb: TracebackType | None) -> str | None:
    """The template file Jinja was compiling when ``tb`` was raised, if it was."""
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name in ("compile", "_compile", "_generate") and "jinja2" in code.co_filename:
            filename = tb.tb_frame.f_locals.get("filename")
            found = filename if isinstance(filename, str) else found
        tb = tb.tb_next
    return found


def _template_frames(tb: TracebackType | None) -> list[tuple[str, int | None]]:
    """(file, line) of each template frame, outermost first: as Jinja rewrote them, or, in a
    traceback it did not get to rewrite, mapped back from the compiled code's line."""
    found: list[tuple[str, int | None]] = []
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        filename = tb.tb_frame.f_code.co_filename
        if template is not None and template.filename:
            found.append((template.filename, template.get_corresponding_lineno(tb.tb_lineno)))
        elif filename.endswith((".html", ".mjml", ".txt", ".css", ".xml")) or f"{os.sep}templates{os.sep}" in filename:
            found.append((filename, tb.tb_lineno))
        tb = tb.tb_next
    return found
