"""A cached issue's sections, read from the cache when first used.

A build reads every cached issue (the archive, the feeds and the issue pages list them),
but the sections only of the issues whose pages or emails it makes again: in an edit
build, usually none.  So an issue taken from the build cache's index carries its
sections as this sequence, which reads them from the issue's own record when anything
first looks at them: templates, equality and repr see the same tuple as ever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, overload

from digest.core.models import Section


class LazySections(Sequence[Section]):
    def __init__(self, load: Callable[[], tuple[Section, ...]]) -> None:
        self._load: Callable[[], tuple[Section, ...]] | None = load
        self._value: tuple[Section, ...] = ()

    def _get(self) -> tuple[Section, ...]:
        if self._load is not None:
            self._value, self._load = self._load(), None
        return self._value

    @overload
    def __getitem__(self, index: int) -> Section: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Section, ...]: ...
    def __getitem__(self, index: int | slice) -> Section | tuple[Section, ...]:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __iter__(self) -> Iterator[Section]:
        return iter(self._get())

    def __eq__(self, other: object) -> bool:
        return self._get() == (tuple(other) if isinstance(other, LazySections) else other)

    def __hash__(self) -> int:
        return hash(self._get())

    def __repr__(self) -> str:
        return repr(self._get())

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (self._get(),))  # a copy or a pickle is the plain tuple
