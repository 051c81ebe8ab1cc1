"""Key naming and key spaces.

Names are fixed-width so that their byte order is their numeric order (Pegasus sorts sort keys
bytewise): hash keys ``hk00001234``, sort keys ``sk00012``; counters used by ``incr`` live under
their own hash keys ``ct00001234`` so that data records always hold checkable values. Widths are
at least 8 (hash keys) and 5 (sort keys) digits and grow with the data layout.

A ``KeySpace`` is the set of records one worker's ops pick from: all records, or in verification
mode only the worker's own hash keys (hash key index ≡ worker mod workers), so that every key has
exactly one writer. Inserted records (``set`` with ``insert: true``) go to new hash keys after the
data set, again interleaved by worker: insert k of worker w is hash key
``hash_keys + (k // sort_keys) * workers + w``, sort key ``k % sort_keys``.

Names are made in the hot loop, so they are memoised: ``KeyNames.hash_keys[i]`` (likewise
``sort_keys``, ``counter_keys``) formats a name once and then costs one dict lookup. The memos
are bounded (:data:`CACHE_LIMIT` entries each); past that, names are formatted on every use, so a
huge key space costs time, never unbounded memory.
"""
from __future__ import annotations

from collections.abc import Callable

HASH_PREFIX = b"hk"
COUNTER_PREFIX = b"ct"
SORT_PREFIX = b"sk"

# Entries per memo of names and record keys: ~100 bytes each (key, value, dict slot), so a full
# memo is ~6-10 MB. The shipped scenarios' key spaces (<= 25,000 records) fit whole; zipfian's
# hot keys are the first ones drawn, so a larger space keeps its hot keys memoised too.
CACHE_LIMIT = 1 << 16
# Entries per memo of built read ops (generator.py): ~200 bytes each, ~3.5 MB when full.
OP_CACHE_LIMIT = 1 << 14


class KeyCache(dict):
    """A bounded memo: ``cache[k]`` is ``make(k)``, computed once while fewer than ``limit``
    entries are stored, recomputed on every use after that. A dict subclass because a hit is
    then a plain subscript (no Python-level call) on the hot path."""

    __slots__ = ("_make", "_limit")

    def __init__(self, make: Callable, limit: int = CACHE_LIMIT):
        super().__init__()
        self._make = make
        self._limit = limit

    def __missing__(self, key):
        value = self._make(key)
        if len(self) < self._limit:
            self[key] = value
        return value


class KeyNames:
    """Index -> key bytes (and back) for one data layout."""

    __slots__ = ("hash_width", "sort_width", "_hk", "_ct", "_sk", "hash_keys", "sort_keys", "counter_keys")

    def __init__(self, hash_keys: int, sort_keys: int):
        self.hash_width = max(8, len(str(max(hash_keys - 1, 0))))
        self.sort_width = max(5, len(str(max(sort_keys - 1, 0))))
        self._hk = HASH_PREFIX + b"%0" + str(self.hash_width).encode() + b"d"
        self._ct = COUNTER_PREFIX + b"%0" + str(self.hash_width).encode() + b"d"
        self._sk = SORT_PREFIX + b"%0" + str(self.sort_width).encode() + b"d"
        # memoised names for the hot loop: index -> bytes
        self.hash_keys = KeyCache(self.hash_key)
        self.sort_keys = KeyCache(self.sort_key)
        self.counter_keys = KeyCache(self.counter_key)

    def hash_key(self, index: int) -> bytes:
        return self._hk % index

    def counter_key(self, index: int) -> bytes:
        return self._ct % index

    def sort_key(self, index: int) -> bytes:
        return self._sk % index

    @staticmethod
    def parse_hash_key(hash_key: bytes) -> tuple[bytes, int] | None:
        """b"hk00000012" -> (b"hk", 12); None when it is not a pegload key."""
        prefix, digits = hash_key[:2], hash_key[2:]
        if prefix in (HASH_PREFIX, COUNTER_PREFIX) and digits.isdigit():
            return prefix, int(digits)
        return None

    @staticmethod
    def parse_sort_key(sort_key: bytes) -> int | None:
        if sort_key[:2] == SORT_PREFIX and sort_key[2:].isdigit():
            return int(sort_key[2:])
        return None


def owned_hash_key_count(hash_keys: int, workers: int, worker: int) -> int:
    """How many of the hash key indices [0, hash_keys) are ≡ worker (mod workers)."""
    return (hash_keys - worker + workers - 1) // workers if worker < hash_keys else 0


class KeySpace:
    """The records (and hash keys) one worker picks from.

    ``hash_key_index(j)`` maps the j-th hash key of the space to its global index;
    ``record(i)`` maps record i in [0, records) to (hash key index, sort key index).
    """

    __slots__ = ("hash_keys", "records", "sort_keys", "worker", "workers", "owned", "_stride")

    def __init__(self, hash_keys: int, sort_keys: int, worker: int, workers: int, owned: bool):
        self.sort_keys = sort_keys
        self.worker = worker
        self.workers = workers
        self.owned = owned
        self.hash_keys = owned_hash_key_count(hash_keys, workers, worker) if owned else hash_keys
        self.records = self.hash_keys * sort_keys
        self._stride = workers if owned else 1

    def hash_key_index(self, j: int) -> int:
        return j * self._stride + (self.worker if self.owned else 0)

    def record(self, i: int) -> tuple[int, int]:
        j, sk = divmod(i, self.sort_keys)
        return j * self._stride + (self.worker if self.owned else 0), sk


class InsertLog:
    """Records inserted by this worker (``set`` with ``insert: true``), with the watermark of
    acknowledged inserts: ``acked`` counts inserts 0..acked-1, all finished, so readers that
    follow the latest records never pick one still in flight."""

    __slots__ = ("data_hash_keys", "sort_keys", "worker", "workers", "issued", "acked", "_done")

    def __init__(self, data_hash_keys: int, sort_keys: int, worker: int, workers: int):
        self.data_hash_keys = data_hash_keys
        self.sort_keys = sort_keys
        self.worker = worker
        self.workers = workers
        self.issued = 0
        self.acked = 0
        self._done: set[int] = set()

    def issue(self) -> int:
        k = self.issued
        self.issued += 1
        return k

    def finish(self, k: int) -> None:
        """Insert k is over (acknowledged or failed): advance the watermark."""
        self._done.add(k)
        while self.acked in self._done:
            self._done.remove(self.acked)
            self.acked += 1

    def record(self, k: int) -> tuple[int, int]:
        """(hash key index, sort key index) of insert k."""
        j, sk = divmod(k, self.sort_keys)
        return self.data_hash_keys + j * self.workers + self.worker, sk
