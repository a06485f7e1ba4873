"""A value made lazily once per process: a thread pool, a client, a helper process's handle.

A process forked after the value was made (a DataLoader worker, a prefork child) must not use its parent's:
a forked thread pool has no threads (its futures never finish), a client's connections and a helper
process's pipes are the parent's, and a lock held by another thread at the fork stays held forever. So every
`PerProcess` forgets its value in the forked child (`os.register_at_fork`) and gets a new lock there; the
child makes its own value on first use. The parent's value is kept referenced, never closed, in the child:
closing it there (a pool's shutdown, a helper's `__del__` killing its process) would act on the parent's.
"""

import os
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")

_instances: "weakref.WeakSet[PerProcess]" = weakref.WeakSet()
_inherited: list[object] = []  # the parents' values, held so nothing in a child closes them


class PerProcess(Generic[T]):
    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()
        _instances.add(self)

    def get(self) -> T:
        """This process's value, made at the first call (under a lock: a burst of first calls makes one)."""
        with self._lock:
            if self._value is None:
                self._value = self._make()
            return self._value

    def _forget(self) -> None:
        if self._value is not None:
            _inherited.append(self._value)
        self._value = None
        self._lock = threading.Lock()


def _after_fork_in_child() -> None:
    for instance in list(_instances):
        instance._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
