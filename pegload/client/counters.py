"""Retry and reconnection counters of one client (the contract the harness reads).

``snapshot()`` returns ``{"retries": {op: {cause: n}}, "reconnects": n}``, cumulative since the
client was created. ``op`` is the client operation (``get``, ``set``, ``multi_get``, ``scan``,
...); an op appears once it has been retried and then always carries all of ``CAUSES``:

* ``busy``: ERR_BUSY (or another throttling answer) was retried after a back-off;
* ``timeout``: a try timed out and the call went on. This client never does that (a call's
  deadline bounds all its tries, so a timed-out try ends the call as ERR_TIMEOUT), so it stays 0;
  the key is kept so every reader sees the same four causes;
* ``reset``: the connection was refused, reset or closed with the request in flight, and the
  call was retried;
* ``route``: the replica no longer serves the partition (ERR_OBJECT_NOT_FOUND,
  ERR_INVALID_STATE, ERR_PARENT_PARTITION_MISUSED, ERR_INACTIVE_STATE, or no primary known):
  the configuration was refreshed and the call retried.

``reconnects`` counts connections re-established to a server they had been open to before.
Nothing here is touched on the success path: the call path counts only when it has decided to
retry, and a connection only when it reconnects.
"""
from __future__ import annotations

CAUSES = ("busy", "timeout", "reset", "route")


class RetryCounters:
    """One object per client, shared by the facade (``Pegasus.counters``) and the typed core
    (``Table.counters``)."""

    __slots__ = ("_retries", "reconnects")

    def __init__(self) -> None:
        self._retries: dict[str, dict[str, int]] = {}
        self.reconnects = 0

    def retried(self, op: str, cause: str) -> None:
        """One retry of ``op`` because of ``cause`` (one of ``CAUSES``)."""
        by_cause = self._retries.get(op)
        if by_cause is None:
            by_cause = self._retries[op] = dict.fromkeys(CAUSES, 0)
        if cause not in by_cause:
            raise ValueError(f"unknown retry cause {cause!r} for {op}; expected one of {CAUSES}")
        by_cause[cause] += 1

    def reconnected(self) -> None:
        self.reconnects += 1

    def snapshot(self) -> dict:
        """A copy: ``{"retries": {op: {cause: n}}, "reconnects": n}``."""
        return {"retries": {op: dict(c) for op, c in self._retries.items()},
                "reconnects": self.reconnects}
