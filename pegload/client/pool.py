"""Address -> Connection, reconciled against each new table configuration.

A refresh keeps the connections of servers that are still in the route table (their calls in
flight are undisturbed) and retires the others: a retired connection closes once its pending
calls have finished. The official Python client closes and reopens every connection instead.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from .connection import Connection

log = logging.getLogger("pgclient.pool")


class ConnectionPool:
    """``factory(address)`` makes the connection object for an address: a ``Connection`` in the
    client, a scripted fake (``testing.FakeNetwork``) in unit tests. Pool, meta resolver and call
    path use only ``Connection``'s public methods, which is all a fake has to offer."""

    def __init__(self, factory: Callable[[str], Connection]) -> None:
        self._factory = factory
        self._conns: dict[str, Connection] = {}
        self._retiring: list[Connection] = []  # left the table, still finishing calls

    def get(self, address: str) -> Connection:
        conn = self._conns.get(address)
        if conn is None:
            conn = self._conns[address] = self._factory(address)
        return conn

    def __contains__(self, address: str) -> bool:
        return address in self._conns

    def __len__(self) -> int:
        return len(self._conns)

    def connections(self) -> list[Connection]:
        return list(self._conns.values())

    def reconcile(self, keep: Iterable[str]) -> None:
        """Retire connections to addresses not in ``keep``."""
        keep = set(keep)
        for address in [a for a in self._conns if a not in keep]:
            log.info("server %s left the route table; retiring its connection", address)
            conn = self._conns.pop(address)
            conn.retire()
            self._retiring.append(conn)
        self._retiring = [c for c in self._retiring if c.pending]

    def pending_count(self) -> int:
        """Calls in flight over all connections (tests use it to prove nothing leaks)."""
        return sum(len(c.pending) for c in (*self._conns.values(), *self._retiring))

    def close(self) -> None:
        for conn in (*self._conns.values(), *self._retiring):
            conn.close()
        self._conns.clear()
        self._retiring.clear()
