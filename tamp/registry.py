"""One way to register things by name: tasks, methods, domains, placement streams, camera
models, robots and commands all use :class:`Registry`.

The same rules everywhere: registering a name twice raises :class:`DuplicateName`;
asking for a name nobody registered raises :class:`UnknownName`, whose message lists the
known names (so a typo on the command line is answered with what would have worked).
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


class UnknownName(KeyError, ValueError):
    """No entry of that name; the message lists the known ones. A ``KeyError`` (a lookup
    that failed) and a ``ValueError`` (a bad argument) alike, so callers written for
    either keep working."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class DuplicateName(ValueError):
    """A name registered twice: two definitions would silently shadow one another."""


class Registry(Generic[T]):
    """Entries by name. ``kind`` names what is registered in messages ("task",
    "camera", ...); ``load`` (optional) is called once before the first lookup to
    register the bundled entries (e.g. import the modules that register themselves), so
    that importing the registry stays cheap."""

    def __init__(self, kind: str, load: Callable[[], None] | None = None,
                 plural: str | None = None):
        self.kind = kind
        self.plural = plural or kind + "s"
        self._entries: dict[str, T] = {}
        self._load = load

    def _loaded(self) -> dict[str, T]:
        if self._load is not None:
            load, self._load = self._load, None
            load()
        return self._entries

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` as ``name``; returns it."""
        if name in self._entries:
            raise DuplicateName(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`: ``@REGISTRY.register("name")``."""

        def decorate(entry: T) -> T:
            return self.add(name, entry)

        return decorate

    def get(self, name: str) -> T:
        """The entry called ``name``; :class:`UnknownName` lists the known names."""
        entries = self._loaded()
        if name not in entries:
            raise UnknownName(f"unknown {self.kind} '{name}'; known {self.plural}: "
                              f"{', '.join(self.names()) or 'none'}")
        return entries[name]

    def names(self) -> list[str]:
        return sorted(self._loaded())

    def remove(self, name: str) -> T:
        """Take an entry out again (a test that registered a toy one cleans up)."""
        self.get(name)
        return self._entries.pop(name)

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._loaded())

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._loaded()[n]) for n in self.names()]
