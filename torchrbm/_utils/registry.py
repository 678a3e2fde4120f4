"""Open registries: classes by name, filled as the classes are defined.

Unit types, samplers and models register themselves from ``__init_subclass__``, so a
subclass written in user code is found by name (and so saves and loads) exactly like
the built-in ones; no code asks for a class by testing its name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Classes of one kind (``"unit type"``, ``"sampler"``, ``"model"``) by name.

    A name belongs to one class; defining the same class again (a reloaded module, a
    notebook cell run twice) replaces it, while a second class claiming a taken name is an error.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str, cls: type[T]) -> None:
        """Make ``cls`` the class called ``name``."""
        known = self._classes.get(name)
        if known is not None and _qualified_name(known) != _qualified_name(cls):
            raise ValueError(f"{self.kind} name {name!r} is taken by {_qualified_name(known)}; "
                             f"give {_qualified_name(cls)} another name")
        self._classes[name] = cls

    def __getitem__(self, name: str) -> type[T]:
        try:
            return self._classes[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(sorted(self._classes))}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self)})"


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
