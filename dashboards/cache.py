"""A cache of finished results kept within a byte budget, shared by every browser session.

The compare page keeps whole comparisons and the designer single-strategy runs; both are
plain data, so sharing them between sessions is safe. The least recently used entry goes
first once the entries hold more than the budget; an entry larger than the whole budget is
not kept (the page still shows it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class BoundedCache(Generic[T]):
    """Entries by key, least recently used dropped first beyond ``budget`` bytes as counted
    by ``size``; safe to use from several threads."""

    def __init__(self, budget: int, size: Callable[[T], int]):
        self.budget = budget
        self.size = size
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> T | None:
        """The entry for ``key`` (now the most recently used), or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, entry: T) -> None:
        """Keep ``entry``, dropping the least recently used ones until all fit the budget."""
        if self.size(entry) > self.budget:
            return
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            held = sum(self.size(kept) for kept in self._entries.values())
            while held > self.budget:
                _, dropped = self._entries.popitem(last=False)
                held -= self.size(dropped)

    @property
    def nbytes(self) -> int:
        """Bytes the entries hold (at most the budget)."""
        with self._lock:
            return sum(self.size(entry) for entry in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[Hashable]:
        """Keys, least recently used first."""
        with self._lock:
            return iter(list(self._entries))
