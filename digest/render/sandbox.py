"""The newsletter's own templates (``templates/``): the loader that reads them and the sandbox they run in.

A template override is code written by whoever can change the newsletter's ``templates/``
folder: a contributor's pull request, previewed by an editor with ``digest serve``, must not
run commands, read files or copy the environment into the site.  Rules:
- Templates run in Jinja2's immutable sandbox (``ImmutableSandboxedEnvironment``): no
  attribute that starts with ``_`` (``__class__``, ``__globals__``, ``__subclasses__``), no
  Python internals (frames, code, generators' frames), no method that changes a list, dict or
  set in place, and ``str.format`` resolves its fields through the same checks.
- Besides Jinja's rules, a template may not touch a filesystem path, a module, a class or an
  open file: ``config.root`` is the newsletter's folder, and a ``pathlib.Path`` would read and
  write files through its public methods (``read_text``, ``unlink``), which the sandbox
  alone allows.  Nothing else in what digest hands to templates (frozen dataclasses, strings,
  dates, tuples, the filters' results) reaches code or files.
- No Python builtin is a global: ``open``, ``os``, ``__import__`` are undefined names
  (an error, as every undefined name is: StrictUndefined).
- A refused access is a ``jinja2.sandbox.SecurityError``, reported by
  ``digest.render.environment.template_errors`` at the template's file and line.

SandboxedEnvironment is Jinja2's documented extension point for these rules (its
``is_safe_attribute`` and ``is_safe_callable`` are meant to be overridden); jinja2 is
imported when the class is first needed (``digest --help`` stays fast).
"""

from __future__ import annotations

import io
import stat
import types
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from digest.core import paths
from digest.core.errors import DigestError, Problem
from digest.render import bounds

if TYPE_CHECKING:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

# What a template may neither look into nor be handed: files and folders (a Path reads and
# writes them), modules (os, sys), classes (a way to object.__subclasses__ and the
# interpreter), open files, and the interpreter's own objects.
_REFUSED: tuple[type, ...] = (
    PurePath,
    types.ModuleType,
    type,
    io.IOBase,
    types.FrameType,
    types.CodeType,
    types.TracebackType,
)


_VERDICTS: dict[tuple[type, str, type], bool] = {}


@lru_cache(maxsize=1)
def sandbox_class() -> type[ImmutableSandboxedEnvironment]:
    """The environment class every template runs in (made once, on first use)."""
    from jinja2 import Template, Undefined, nodes
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
    from jinja2.visitor import NodeTransformer

    class Bounded(NodeTransformer):
        """Sends each loop's iterable and each ``~`` through digest's filters (bounds.py)."""

        def __init__(self, environment: Any) -> None:
            self.environment = environment

        def _filter(self, node: nodes.Node, name: str) -> nodes.Filter:
            wrapped = nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)
            wrapped.set_environment(self.environment)
            return wrapped

        def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - Jinja's visitor names
            self.generic_visit(node)
            node.iter = self._filter(node.iter, bounds.LOOP_FILTER)
            return node

        def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
            self.generic_visit(node)
            operands = nodes.List(node.nodes, lineno=node.lineno)
            operands.set_environment(self.environment)
            return self._filter(operands, bounds.CONCAT_FILTER)

    class BoundedCodeGenerator(CodeGenerator):
        def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:  # noqa: N802
            Bounded(self.environment).visit(node)
            super().visit_Template(node, frame)

    class BoundedTemplate(Template):
        def render(self, *args: Any, **kwargs: Any) -> str:
            seconds = getattr(self.environment, "render_seconds", bounds.DEFAULT_SECONDS)
            token = bounds.BUDGET.set(bounds.Budget(seconds))
            try:
                return super().render(*args, **kwargs)
            finally:
                bounds.BUDGET.reset(token)

    class TemplateSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "+", "%"})
        code_generator_class = BoundedCodeGenerator
        template_class = BoundedTemplate
        render_seconds = bounds.DEFAULT_SECONDS

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.globals["range"] = bounds.bounded_range
            # Output is byte-identical build after build: nothing random (lipsum's text, the random filter).
            del self.globals["lipsum"]
            del self.filters["random"]
            self.filters[bounds.LOOP_FILTER] = pass_context(bounds._loop)
            self.filters[bounds.CONCAT_FILTER] = pass_context(bounds._concat)

        def bound_filters(self) -> None:
            """Put the size rule around the filters that need it (call once all are registered)."""
            for name, func in list(self.filters.items()):
                if name in bounds.CHECKED_FILTERS:
                    self.filters[name] = bounds.bounded_filter(name, func)

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            # Every rule here and in Jinja's checks depends only on the types of the object and
            # the value and on the attribute's name (Jinja's mutable-method rule uses isinstance
            # on ABCs, a few microseconds each), so a verdict is kept per (types, name): a
            # large issue reads thousands of attributes, of a few dozen kinds.
            key = (type(obj), attr, type(value))
            verdict = _VERDICTS.get(key)
            if verdict is None:
                verdict = (
                    super().is_safe_attribute(obj, attr, value)
                    and not isinstance(obj, _REFUSED)
                    and not isinstance(value, _REFUSED)
                )
                if len(_VERDICTS) < 10_000:
                    _VERDICTS[key] = verdict
            return verdict

        def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
            # Jinja returns an Undefined that fails only when used, so a refused attribute
            # inside a list ([x]|map(attribute="__class__")) would print as "Undefined" and
            # pass: a refused access is an error at once, wherever it happens.
            raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe.")

        def is_safe_callable(self, obj: Any) -> bool:
            if not super().is_safe_callable(obj):
                return False
            # A bound method of a refused object (a Path's read_text) cannot be reached
            # through an attribute, but a filter's result could in principle hand one out.
            owner = getattr(obj, "__self__", None)
            return not isinstance(owner, _REFUSED)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            bounds.tick()
            bounds.check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 - Jinja's signature
            # Every call (a macro, a method, a global) looks at the clock: a macro that calls
            # itself twice is a loop without a {% for %}.
            bounds.check_time()
            owner = getattr(__obj, "__self__", None)
            if owner is None:  # the sandbox's own wrapper around str.format
                owner = getattr(getattr(__obj, "__wrapped__", None), "__self__", None)
            if isinstance(owner, str):
                bounds.check_str_call(owner, getattr(__obj, "__name__", ""), args, kwargs)
            for arg in (*args, *kwargs.values()):
                bounds.check_weight(arg, "an argument")
            result = super().call(__context, __obj, *args, **kwargs)
            bounds.check_weight(result, "the result of the call")
            return result

    from jinja2 import pass_context

    return TemplateSandbox


# The newsletter's own templates: the folder, and the loader that reads it.


def user_templates(root: Path) -> Path | None:
    """The newsletter's templates/ folder, or None when it has none.  An unreadable one is an
    error: falling back to the built-in templates would quietly build the wrong emails."""
    folder, problems = paths.templates_folder(root)
    if problems:
        raise DigestError(problems)
    return folder


@lru_cache(maxsize=1)
def _override_loader_class() -> type[jinja2.FileSystemLoader]:
    import jinja2

    class OverrideLoader(jinja2.FileSystemLoader):
        """templates/ as Jinja's loader, refusing what the built-in fallback would hide:
        a file that cannot be read, is not UTF-8, or is a symlink out of the newsletter.
        A byte order mark at the start is dropped (Windows editors write one)."""

        def __init__(self, folder: Path, root: Path) -> None:
            super().__init__(folder)
            self.folder, self.root = folder, root

        def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
            path = self.folder.joinpath(*jinja2.loaders.split_template_path(template))  # refuses ".."
            rel = f"templates/{template}"
            try:
                st = paths.input_stat(path, self.root)
            except paths.Refused as e:
                if e.missing:
                    raise jinja2.TemplateNotFound(template) from None
                raise DigestError([Problem(rel, None, str(e))]) from None
            if not path.resolve().is_relative_to(self.root):  # a linked folder on its way leads out
                why = "leads out of the newsletter folder through a symlinked folder on its way; refusing to read it"
                raise DigestError([Problem(rel, None, why)])
            if not stat.S_ISREG(st.st_mode):
                # Not a file (a folder, a named pipe, a device): the built-in template would
                # quietly take its place, and reading a pipe would wait for a writer for ever.
                raise DigestError([Problem(rel, None, _not_a_file(st.st_mode))])
            try:
                data = path.read_bytes()
            except OSError as e:
                raise DigestError([Problem(rel, None, f"cannot be read: {paths.reason(e)}")]) from None
            try:
                source = data.decode("utf-8")
            except UnicodeDecodeError as e:
                line = data[: e.start].count(b"\n") + 1
                raise DigestError(
                    [
                        Problem(
                            rel,
                            line,
                            f"not UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded); save the file as UTF-8",
                        )
                    ]
                ) from None
            mtime = st.st_mtime_ns
            return source.removeprefix("\ufeff"), str(path), lambda: _mtime(path) == mtime

    return OverrideLoader


def _not_a_file(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a template: a template override must be a plain file"
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"is {kind}, not a template: a template override must be a plain file"


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def override_loader(folder: Path, root: Path) -> jinja2.BaseLoader:
    """templates/ as Jinja's loader (the class is made on first use: jinja2 is a heavy import)."""
    cls: Any = _override_loader_class()
    loader: jinja2.BaseLoader = cls(folder, root)
    return loader
