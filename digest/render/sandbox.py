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


@lru_cache(maxsize=1)
def sandbox_class() -> type[ImmutableSandboxedEnvironment]:
    """The environment class every template runs in (made once, on first use)."""
    from jinja2 import Undefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

    class TemplateSandbox(ImmutableSandboxedEnvironment):
        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            if not super().is_safe_attribute(obj, attr, value):
                return False
            return not isinstance(obj, _REFUSED) and not isinstance(value, _REFUSED)

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

    return TemplateSandbox
