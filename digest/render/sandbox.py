"""The sandbox every template runs in, the newsletter's overrides and the built-in ones alike.

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
  ``digest.render.errors.template_errors`` at the template's file and line.

SandboxedEnvironment is Jinja2's documented extension point for these rules (its
``is_safe_attribute`` and ``is_safe_callable`` are meant to be overridden); jinja2 is
imported when the class is first needed (``digest --help`` stays fast).
"""

from __future__ import annotations

import io
import types
from functools import lru_cache
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from digest.render import bounds

if TYPE_CHECKING:
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
