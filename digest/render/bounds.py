"""Bounds on what a template may build and how long it may run (issue 20, item 7).

A template is code: ``{{ 'a' * 10**10 }}`` asks for ten gigabytes in one step, and two nested
loops over long strings run for days without printing a character.  The output bound
(environment.MAX_OUTPUT) sees neither.  Rules:

- **Size.** No value a template builds may exceed MAX_SIZE (16 Mi characters of text, 16 Mi
  elements of a list, counting what nested lists hold: ``[s] * 1000`` holds 1000 copies of
  ``s`` when printed).  Operations that multiply (``*``, ``**``, ``%``-formatting widths, a
  method's or filter's width or count: ``center``, ``indent``, ``replace``, ``join``,
  ``batch``, ``format``) are checked *before* they run, from their operands; the others
  (``~``, ``+``, any filter or call) from what they are given and what they return, each at
  most a small multiple of its operands.  A number may have at most MAX_INT_BITS bits.
- **Time.** Each render of a template (with what it includes and extends) has a budget of CPU
  seconds of its thread, ``DIGEST_TEMPLATE_SECONDS`` (default 10; a build's templates take
  milliseconds, so it only stops runaway ones).  It is checked at every loop iteration, every
  call (macros, methods, globals) and every intercepted operator, so nothing a template can
  repeat escapes it: Jinja has no other way to loop.  A single step (one filter on 16 MiB of
  text) is not interrupted, and it is bounded by the size rule.
- Either is an error at the template's line, as any template error is (errors.template_errors).

The hooks are Jinja2's public extension points: SandboxedEnvironment's ``call``, ``call_binop``
and ``intercepted_binops``, the environment's ``code_generator_class`` (the loop's iterable
and each ``~`` go through a filter) and ``template_class`` (each render starts a budget).
"""

from __future__ import annotations

import contextvars
import functools
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from digest.core.errors import DigestError, Problem

MAX_SIZE = 16 * 1024 * 1024  # as environment.MAX_OUTPUT: no part can be larger than the whole
MAX_INT_BITS = 1 << 16  # about 19,700 decimal digits
MAX_RANGE = 100_000  # as Jinja's sandbox: numbers in one range()
SECONDS_VAR = "DIGEST_TEMPLATE_SECONDS"
DEFAULT_SECONDS = 10.0
_CHECK_EVERY = 64  # loop iterations between two looks at the clock (a look costs a system call)

LOOP_FILTER = "digest loop"  # names no template can write (a space), so none can shadow or call them
CONCAT_FILTER = "digest concat"


class TemplateLimit(Exception):
    """A template went past a size or time bound; the message says which, for the editor."""


def render_seconds() -> float:
    """The time budget of one render, from DIGEST_TEMPLATE_SECONDS (a user error if not a number)."""
    raw = os.environ.get(SECONDS_VAR)
    if raw is None:
        return DEFAULT_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 1e9:
        raise DigestError([Problem(SECONDS_VAR, None, f"must be a positive number of seconds, got {raw!r}")])
    return seconds


class Budget:
    """One render's time budget, in CPU seconds of the rendering thread (so a busy machine does
    not fail a template that a quiet one renders)."""

    __slots__ = ("deadline", "seconds", "ticks")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds
        self.ticks = _CHECK_EVERY

    def tick(self) -> None:
        self.ticks -= 1
        if self.ticks <= 0:
            self.check()

    def check(self) -> None:
        self.ticks = _CHECK_EVERY
        if time.thread_time() > self.deadline:
            raise TemplateLimit(
                f"the template runs longer than {self.seconds:g} s (a loop without end?); {SECONDS_VAR} sets the limit"
            )


BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("digest_template_budget", default=None)


def tick() -> None:
    if (budget := BUDGET.get()) is not None:
        budget.tick()


def check_time() -> None:
    if (budget := BUDGET.get()) is not None:
        budget.check()


def _too_large(what: str) -> TemplateLimit:
    return TemplateLimit(f"{what} would be larger than {MAX_SIZE // 1024 // 1024} MiB (a repetition without bound?)")


def weight(value: object) -> int:
    """How large ``value`` is once printed, roughly: characters of text, one per element of a
    list, tuple, set or dict plus what they hold.  Stops counting past MAX_SIZE."""
    total, todo = 0, [value]
    while todo and total <= MAX_SIZE:
        v = todo.pop()
        if isinstance(v, (str, bytes)):
            total += len(v)
        elif isinstance(v, (list, tuple, set, frozenset)):
            total += len(v) + 1
            if total <= MAX_SIZE:
                todo.extend(v)
        elif isinstance(v, dict):
            total += 2 * len(v) + 1
            if total <= MAX_SIZE:
                todo.extend(v.keys())
                todo.extend(v.values())
        else:
            total += 1
    return total


def check_weight(value: object, what: str = "the value") -> None:
    if isinstance(value, str):  # the common case, in constant time
        if len(value) > MAX_SIZE:
            raise _too_large(what)
    elif isinstance(value, (list, tuple, set, frozenset, dict)) and weight(value) > MAX_SIZE:
        raise _too_large(what)


def _bits(n: int) -> int:
    return abs(n).bit_length()


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be too large, before it runs."""
    if isinstance(left, bool) or isinstance(right, bool):
        return
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and n > 0 and weight(seq) * n > MAX_SIZE:
                raise _too_large("the repetition")
        if isinstance(left, int) and isinstance(right, int) and _bits(left) + _bits(right) > MAX_INT_BITS:
            raise TemplateLimit(f"the product would have more than {MAX_INT_BITS:,} bits")
    elif operator == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and _bits(left) > 1
            and (_bits(left) - 1) * right > MAX_INT_BITS
        ):
            raise TemplateLimit(f"the power would have more than {MAX_INT_BITS:,} bits")
    elif operator == "+":
        if (
            isinstance(left, (str, list, tuple))
            and isinstance(right, (str, list, tuple))
            and weight(left) + weight(right) > MAX_SIZE
        ):
            raise _too_large("the sum")
    elif operator == "%" and isinstance(left, str):
        check_format(left, right if isinstance(right, tuple) else (right,))


_BIG_NUMBER = re.compile(r"\d{" + str(len(str(MAX_SIZE))) + ",}")


def check_format(fmt: str, args: Iterable[Any]) -> None:
    """A format string (``%`` or ``str.format``) may not ask for a width or precision over
    MAX_SIZE, written in it or passed as an argument (``%*d``, ``{:{}}``)."""
    for m in _BIG_NUMBER.finditer(fmt):
        if int(m.group()) > MAX_SIZE:
            raise _too_large("the formatted text")
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_SIZE and ("*" in fmt or "{" in fmt):
            raise _too_large("the formatted text")
        if isinstance(arg, dict):
            check_format(fmt, arg.values())


def check_str_call(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a method call on a string whose result would be too large: a width or a count
    over MAX_SIZE (center, ljust, zfill, expandtabs, format), or a product (replace, join, translate)."""
    values = [*args, *kwargs.values()]
    if name in ("format", "format_map"):
        check_format(text, [v for a in values for v in (a.values() if isinstance(a, dict) else [a])])
        return
    if any(isinstance(v, int) and not isinstance(v, bool) and v > MAX_SIZE for v in values):
        raise _too_large("the text")
    if name == "expandtabs" and values and isinstance(values[0], int) and text.count("\t") * values[0] > MAX_SIZE:
        raise _too_large("the text")
    if name == "replace" and len(values) >= 2 and isinstance(values[0], str) and isinstance(values[1], str):
        count = text.count(values[0]) if values[0] else len(text) + 1
        if len(text) + count * len(values[1]) > MAX_SIZE:
            raise _too_large("the text")
    if name == "join" and values:
        items = values[0] if isinstance(values[0], (list, tuple)) else ()
        if weight(items) + len(text) * len(items) > MAX_SIZE:
            raise _too_large("the joined text")
    if name == "translate" and values and isinstance(values[0], dict):
        longest = max((weight(v) for v in values[0].values()), default=0)
        if len(text) * max(1, longest) > MAX_SIZE:
            raise _too_large("the text")


def bounded_range(*args: int) -> range:
    """range() with at most MAX_RANGE numbers (as Jinja's sandbox, with an editor's message)."""
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimit(f"range() may count at most {MAX_RANGE:,} numbers, not {len(numbers):,}")
    return numbers


def _loop(context: Any, iterable: Iterable[Any]) -> Iterator[Any]:
    """Every {% for %} iterates through this: each iteration counts against the time budget."""
    budget = BUDGET.get()
    if budget is None:
        yield from iterable
        return
    for item in iterable:
        budget.tick()
        yield item


def _concat(context: Any, operands: list[Any]) -> Any:
    """Every ``a ~ b`` goes through this: its operands are checked before they are joined
    (a list among them is printed whole), then joined as Jinja joins them."""
    from jinja2.runtime import markup_join, str_join  # (jinja2 is imported only when rendering)

    total = 0
    for operand in operands:
        total += len(operand) if isinstance(operand, str) else weight(operand)
        if total > MAX_SIZE:
            raise _too_large("the joined text")
    return markup_join(operands) if context.eval_ctx.autoescape else str_join(operands)


# Filters whose arguments say how large their result is, and the check for each.
def _filter_precheck(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    values = [*args, *kwargs.values()]
    if name in ("center", "indent", "batch", "slice", "truncate", "wordwrap") and any(
        isinstance(v, int) and not isinstance(v, bool) and v > MAX_SIZE for v in values
    ):
        raise _too_large(f"the result of {name}")
    text = value if isinstance(value, str) else ""
    if name == "indent" and values:
        width = values[0]
        per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        if (text.count("\n") + 1) * per_line + len(text) > MAX_SIZE:
            raise _too_large("the result of indent")
    elif name == "wordwrap":
        wrapstring = kwargs.get("wrapstring", args[2] if len(args) > 2 else None)
        if isinstance(wrapstring, str) and len(text) * (1 + len(wrapstring)) > MAX_SIZE:
            raise _too_large("the result of wordwrap")
    elif name == "replace" and len(values) >= 2 and isinstance(values[0], str) and isinstance(values[1], str):
        check_str_call(text, "replace", (values[0], values[1]), {})
    elif name == "format":
        check_format(text, values)
    elif name == "batch" and values and isinstance(values[0], int) and values[0] > MAX_SIZE:
        raise _too_large("the result of batch")
    elif name == "sum" and isinstance(kwargs.get("start", args[1] if len(args) > 1 else 0), (str, list, tuple)):
        # Adding lists one to another is quadratic, in one step no clock can interrupt.
        raise TemplateLimit("sum adds numbers only (its start may not be a list or a text)")


# The filters that can build a value many times the size of what they are given (a width, a
# count, a separator repeated, a list drawn from a generator), checked around each call.  The
# others (escape, upper, title, digest's markdown...) return at most a few times what they are
# given, which was itself checked when it was built; leaving them alone keeps a large issue's
# render about 8 ms faster.
CHECKED_FILTERS = frozenset(
    "center indent wordwrap replace format join batch slice sum tojson pprint list urlize xmlattr truncate".split()
)


def bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with the size rule around it: its value and arguments before, its result after.
    (A filter that takes the context or environment first keeps doing so.)"""
    passes_first = hasattr(func, "jinja_pass_arg")

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        rest = args[1:] if passes_first else args
        value, extra = (rest[0], rest[1:]) if rest else (None, ())
        if name == "join" and not isinstance(value, (str, list, tuple, dict)) and value is not None:
            value = list(_take(value))  # a generator: counted as it is drawn, then joined
            args = (*args[: len(args) - len(rest)], value, *extra)
        check_weight(value, f"the value given to {name}")
        for arg in (*extra, *kwargs.values()):
            check_weight(arg, f"an argument of {name}")
        _filter_precheck(name, value, extra, kwargs)
        if name == "join":
            separator = extra[0] if extra else kwargs.get("d", "")
            if isinstance(value, (list, tuple)) and weight(value) + len(str(separator)) * len(value) > MAX_SIZE:
                raise _too_large("the joined text")
        result = func(*args, **kwargs)
        check_weight(result, f"the result of {name}")
        return result

    return bounded


def _take(iterable: Iterable[Any]) -> Iterator[Any]:
    count = 0
    for item in iterable:
        count += 1
        if count > MAX_SIZE:
            raise _too_large("the list")
        tick()
        yield item
