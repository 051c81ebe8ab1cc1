"""What a worker knows about the records it writes, so every read of them can be judged.

Model (documented for users in docs/scenarios.md, "Verification"):

- In verification mode every hash key has exactly one writer: worker w owns the hash keys whose
  index ≡ w (mod workers), and *all* its ops (reads too) pick keys among its own hash keys; the
  load phase splits the data set the same way. Whole-table scans also return other workers' keys:
  those are checked for integrity only.
- Per key the writer numbers its writes 1, 2, 3, ... (``begin_write``); version 0 is the initial
  absence. A remove is a version too (a "tombstone": it writes no value). At most one write per
  key is in flight per worker (``begin_write`` returns None otherwise and the generator picks
  another key), so the writes of a key are applied in version order.
- ``end_write(applied=True)`` (the server acknowledged it) makes that version the key's floor:
  a read *sent after* this acknowledgement must return this version or a newer one.
  ``applied=False`` means certainly not applied (e.g. a check_and_set whose check failed);
  ``applied=None`` means unknown (timeout, lost connection): that write may land at any later
  time, so from then on the key's floor is never above that version (no false "stale").
- A read takes ``read_token()`` before it is sent. When it returns, ``classify`` compares the
  version read with the floor that held when the token was taken and with the newest version
  issued:
    * version >= floor and <= newest issued: CORRECT;
    * intact but older than the floor: STALE (an acknowledged write was lost or a stale replica
      answered);
    * absent, although the floor is a value and no remove was issued since: MISSING;
    * a version never issued, or bytes that fail ``check_value``: CORRUPT.
  Only the key's last two acknowledgements are kept; if two or more writes of the key were
  acknowledged while the read was in flight, its floor is not known and only integrity is
  checked (lenient, never a false alarm).
- Counters (``incr``) are checked by value: each answer must equal the previous answer plus the
  increment (give or take increments whose outcome was unknown); the first answer for a counter
  only pins its value, since a table may hold it from an earlier run.

Cost: one small list per key ever written in this worker (a few hundred bytes each).
"""
from __future__ import annotations

from .values import CORRECT, CORRUPT, MISSING, STALE, VerifyResult, check_value

_OK = VerifyResult(CORRECT)

# per-key state slots
_ISSUED, _INFLIGHT, _LAST_V, _LAST_SEQ, _PREV_V, _PREV_SEQ, _LAST_TOMB, _AMBIGUOUS = range(8)
_NONE = -1


class VerifyState:
    """Single-writer bookkeeping for one worker's keys (keys are (hash_key, sort_key) tuples)."""

    def __init__(self):
        self._keys: dict[tuple[bytes, bytes], list[int]] = {}
        self._acks = 0  # increases on every acknowledged write: the read token clock
        self._counters: dict[tuple[bytes, bytes], list] = {}  # key -> [value, inflight, slack]

    # --- writes ---------------------------------------------------------------------------
    def _state(self, key) -> list[int]:
        st = self._keys.get(key)
        if st is None:
            # version 0 = initially absent, as if removed and acknowledged at the beginning
            st = self._keys[key] = [0, 0, 0, 0, 0, 0, 0, _NONE]
        return st

    def begin_write(self, key, tombstone: bool = False) -> int | None:
        """The version for a new write (or remove) of ``key``, or None if one is in flight."""
        st = self._state(key)
        if st[_INFLIGHT]:
            return None
        st[_INFLIGHT] = 1
        v = st[_ISSUED] = st[_ISSUED] + 1
        if tombstone:
            st[_LAST_TOMB] = v
        return v

    def begin_writes(self, keys, tombstone: bool = False) -> list[int] | None:
        """begin_write for several keys at once (multi_set, multi_del): all or nothing."""
        states = [self._state(k) for k in keys]
        for st in states:
            if st[_INFLIGHT]:
                return None
        versions = []
        for st in states:
            st[_INFLIGHT] = 1
            v = st[_ISSUED] = st[_ISSUED] + 1
            if tombstone:
                st[_LAST_TOMB] = v
            versions.append(v)
        return versions

    def end_write(self, key, version: int, applied: bool | None) -> None:
        """The write of ``version`` is over: applied (acknowledged), not applied, or unknown."""
        st = self._keys[key]
        st[_INFLIGHT] = 0
        if applied is True:
            self._acks += 1
            st[_PREV_V], st[_PREV_SEQ] = st[_LAST_V], st[_LAST_SEQ]
            st[_LAST_V], st[_LAST_SEQ] = version, self._acks
        elif applied is None and (st[_AMBIGUOUS] == _NONE or version < st[_AMBIGUOUS]):
            st[_AMBIGUOUS] = version

    def expected_version(self, key) -> int:
        """The last acknowledged version of ``key`` (0 = absent/never written)."""
        st = self._keys.get(key)
        return st[_LAST_V] if st else 0

    # --- reads ----------------------------------------------------------------------------
    def read_token(self) -> int:
        """Take before sending a read; pass to classify() with the result."""
        return self._acks

    def _floor(self, st: list[int], token: int) -> int:
        if st[_LAST_SEQ] <= token:
            floor = st[_LAST_V]
        elif st[_PREV_SEQ] <= token:
            floor = st[_PREV_V]
        else:
            floor = 0  # two acknowledgements during the read: unknown, be lenient
        amb = st[_AMBIGUOUS]
        return amb if amb != _NONE and amb < floor else floor

    def classify_version(self, key, token: int, version: int | None) -> VerifyResult:
        """Judge a read of ``key`` that returned ``version`` (None = absent)."""
        st = self._keys.get(key)
        if st is None:
            st = [0, 0, 0, 0, 0, 0, 0, _NONE]
        floor = self._floor(st, token)
        if version is None:
            if st[_LAST_TOMB] >= floor:
                return _OK
            return VerifyResult(MISSING, None, f"absent, but version {floor} was acknowledged before the read")
        if version > st[_ISSUED] or version == 0:
            return VerifyResult(CORRUPT, version, f"version {version} was never written (newest issued: {st[_ISSUED]})")
        if version < floor:
            return VerifyResult(STALE, version, f"version {version} read after version {floor} was acknowledged")
        return VerifyResult(CORRECT, version)

    def classify(self, key, token: int, value: bytes | None) -> VerifyResult:
        """Judge a value read from ``key`` (None = not found): integrity, then freshness."""
        if value is None:
            return self.classify_version(key, token, None)
        result = check_value(key[0], key[1], value)
        if result.status != CORRECT:
            return result
        return self.classify_version(key, token, result.version)

    def classify_presence(self, key, token: int, present: bool) -> VerifyResult:
        """Judge an exist/ttl answer: is the record's presence possible?"""
        st = self._keys.get(key)
        if st is None:
            st = [0, 0, 0, 0, 0, 0, 0, _NONE]
        floor = self._floor(st, token)
        if present:
            if st[_ISSUED] == 0:
                return VerifyResult(CORRUPT, None, "present, but this worker never wrote it")
            if st[_LAST_TOMB] == st[_ISSUED] and floor == st[_ISSUED]:
                return VerifyResult(STALE, None,
                                    f"present, but its removal (version {floor}) was acknowledged before the read")
            return _OK
        return self.classify_version(key, token, None)

    def knows(self, key) -> bool:
        """Whether this worker wrote ``key`` in this run (so its freshness can be judged)."""
        return key in self._keys

    # --- counters ---------------------------------------------------------------------------
    def begin_incr(self, key) -> bool:
        """Reserve counter ``key`` for one increment; False if one is in flight."""
        st = self._counters.get(key)
        if st is None:
            # [value, inflight, slack]: the starting value is unknown (a table may hold the
            # counter from an earlier run), so the first answer pins it
            st = self._counters[key] = [None, 0, 0]
        if st[1]:
            return False
        st[1] = 1
        return True

    def end_incr(self, key, increment: int, new_value: int | None) -> VerifyResult:
        """The incr is over: ``new_value`` from the server, or None when its outcome is unknown.
        An unknown increment may land at any later time, so it widens the accepted range
        (``slack``) for good. Returns the verdict."""
        st = self._counters[key]
        st[1] = 0
        if new_value is None:
            st[2] += abs(increment)
            return _OK
        known, slack = st[0], st[2]
        st[0] = new_value
        if known is None:
            return _OK
        expected = known + increment
        if expected - slack <= new_value <= expected + slack:
            return _OK
        if new_value < expected:
            return VerifyResult(STALE, None, f"counter {new_value} after {increment:+d}: "
                                             f"an acknowledged increment was lost (expected {expected})")
        return VerifyResult(CORRUPT, None, f"counter {new_value} after {increment:+d}: "
                                           f"more than this worker added (expected {expected})")
