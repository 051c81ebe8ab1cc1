"""``Pegasus``: the official Python client's API, as blocking calls that suspend only the calling
greenlet.

Each call returns the official client's ``(code, value)`` tuple: ``code`` is
``error_types.ERR_OK.value`` on success, ``ERR_OBJECT_NOT_FOUND.value`` for a missing record
(get/ttl/exist), ``ERR_INCOMPLETE_DATA.value`` when multi_get stopped on a limit, the raw
RocksDB status for other storage errors, and the error's code (``ERR_TIMEOUT``,
``ERR_SESSION_RESET``, ``ERR_BUSY``, ...) when the call failed before a storage answer; then the
value is None. Invalid arguments raise ``TypeError`` / ``ValueError``. The typed core behind it
is ``self.table`` (``pegload.client.table.Table``: values, None for a miss, exceptions).
"""
from __future__ import annotations

import logging

from .args import to_bytes
from .callpath import DEFAULT_TIMEOUT_MS
from .errors import PegasusError, StorageError, error_types
from .scanner import Scanner, ScanSpec
from .table import Table
from .wire.messages import CasCheckType as cas_check_type
from .wire.messages import FilterType as filter_type

log = logging.getLogger("pgclient")

DEFAULT_TIMEOUT = DEFAULT_TIMEOUT_MS  # ms
PegasusScanner = Scanner

_OK = error_types.ERR_OK.value
_NOT_FOUND = error_types.ERR_OBJECT_NOT_FOUND.value
_INCOMPLETE = error_types.ERR_INCOMPLETE_DATA.value


class _Options:
    """A plain bag of options: shown and compared by its attributes."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and vars(self) == vars(other)


class MultiGetOptions(_Options):
    """Options of ``multi_get_opt`` (the official client's attributes and defaults)."""

    def __init__(self, start_inclusive: bool = True, stop_inclusive: bool = False,
                 sortkey_filter_type: int = filter_type.FT_NO_FILTER, sortkey_filter_pattern="",
                 no_value: bool = False, reverse: bool = False) -> None:
        self.start_inclusive = start_inclusive
        self.stop_inclusive = stop_inclusive
        self.sortkey_filter_type = sortkey_filter_type
        self.sortkey_filter_pattern = sortkey_filter_pattern
        self.no_value = no_value
        self.reverse = reverse


class ScanOptions(_Options):
    """Options of scanners: the official client's attributes plus ``no_value`` and the hash-key /
    sort-key filters. Read when the scanner is created; later changes do not affect it."""

    def __init__(self, timeout_millis: int = 5000, batch_size: int = 1000,
                 start_inclusive: bool = True, stop_inclusive: bool = False, snapshot=None,
                 no_value: bool = False, hash_key_filter_type: int = filter_type.FT_NO_FILTER,
                 hash_key_filter_pattern=b"", sort_key_filter_type: int = filter_type.FT_NO_FILTER,
                 sort_key_filter_pattern=b"") -> None:
        self.timeout_millis = timeout_millis
        self.batch_size = batch_size
        self.start_inclusive = start_inclusive
        self.stop_inclusive = stop_inclusive
        self.snapshot = snapshot  # accepted for compatibility; unused, as in the official client
        self.no_value = no_value
        self.hash_key_filter_type = hash_key_filter_type
        self.hash_key_filter_pattern = hash_key_filter_pattern
        self.sort_key_filter_type = sort_key_filter_type
        self.sort_key_filter_pattern = sort_key_filter_pattern

    def to_spec(self) -> ScanSpec:
        return ScanSpec(int(self.timeout_millis), int(self.batch_size), bool(self.start_inclusive),
                        bool(self.stop_inclusive), bool(self.no_value), int(self.hash_key_filter_type),
                        to_bytes(self.hash_key_filter_pattern, "hash_key_filter_pattern"),
                        int(self.sort_key_filter_type),
                        to_bytes(self.sort_key_filter_pattern, "sort_key_filter_pattern"))


class Pegasus:
    """A client of one table: ``Pegasus(['127.0.0.1:34601'], 'temp')``, then ``init()``.

    Usable as a context manager (``close()`` on exit). Many greenlets may share one client.
    """

    def __init__(self, meta_addrs=None, table_name: str = "", timeout: int = DEFAULT_TIMEOUT) -> None:
        """
        :param meta_addrs: (list) meta servers, e.g. ['127.0.0.1:34601', '127.0.0.1:34602'].
        :param table_name: (str) the table (app) name.
        :param timeout: (int) default timeout in milliseconds of every call.
        """
        self.name = table_name
        self.table = Table(meta_addrs or [], table_name, timeout_ms=timeout)

    # ------------------------------------------------------------------ lifecycle
    def init(self) -> bool:
        """Fetch the table's configuration; True on success, False (reason logged) otherwise."""
        try:
            self.table.open()
        except PegasusError as e:
            log.error("init of table %r failed: %s", self.name, e)
            return False
        failed = self.table.connect_all()
        if failed:
            log.warning("table %r: could not connect to %s yet; calls will retry", self.name, failed)
        return True

    def close(self) -> None:
        """Close every connection; the client cannot be used afterwards."""
        self.table.close()

    @property
    def counters(self):
        """Retries by op and cause, and reconnections, since the client was created:
        ``counters.snapshot()``; the same object as ``self.table.counters``."""
        return self.table.counters

    def __enter__(self) -> Pegasus:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ single records
    def ttl(self, hash_key, sort_key, timeout: int = 0):
        """(code, ttl seconds; -1 = no TTL). ERR_OBJECT_NOT_FOUND (ttl 0) when missing."""
        return self._ttl(hash_key, sort_key, timeout, "ttl")

    def exist(self, hash_key, sort_key, timeout: int = 0):
        """Same result as ``ttl``: ERR_OK when the record exists, ERR_OBJECT_NOT_FOUND if not."""
        return self._ttl(hash_key, sort_key, timeout, "exist")

    def _ttl(self, hash_key, sort_key, timeout: int, op: str):
        try:
            t = self.table._ttl(hash_key, sort_key, timeout, op)  # op: the retry counters' name
        except StorageError as e:
            return e.errno, getattr(e.response, "ttl_seconds", 0)
        except PegasusError as e:
            return e.errno, None
        return (_NOT_FOUND, 0) if t is None else (_OK, t)

    def get(self, hash_key, sort_key, timeout: int = 0):
        """(code, value bytes); (ERR_OBJECT_NOT_FOUND, b'') when missing."""
        try:
            v = self.table.get(hash_key, sort_key, timeout)
        except PegasusError as e:
            return e.errno, None
        return (_NOT_FOUND, b"") if v is None else (_OK, v)

    def set(self, hash_key, sort_key, value, ttl: int = 0, timeout: int = 0):
        """(code, None). ``ttl`` in seconds, 0 = none."""
        try:
            self.table.set(hash_key, sort_key, value, ttl, timeout)
        except PegasusError as e:
            return e.errno, None
        return _OK, None

    def remove(self, hash_key, sort_key, timeout: int = 0):
        """(code, None); ERR_OK also when the record did not exist."""
        try:
            self.table.remove(hash_key, sort_key, timeout)
        except PegasusError as e:
            return e.errno, None
        return _OK, None

    def incr(self, hash_key, sort_key, increment: int = 1, ttl: int = 0, timeout: int = 0):
        """(code, new value). The old value must be an integer string (missing counts as 0);
        ``ttl``: 0 keeps the record's TTL, > 0 sets it, -1 removes it."""
        try:
            return _OK, self.table.incr(hash_key, sort_key, increment, ttl, timeout)
        except StorageError as e:
            return e.errno, getattr(e.response, "new_value", 0)
        except PegasusError as e:
            return e.errno, None

    # ------------------------------------------------------------------ one hash key
    def multi_set(self, hash_key, sortkey_value_dict, ttl: int = 0, timeout: int = 0):
        """(code, None): all pairs written atomically with the same TTL."""
        try:
            self.table.multi_set(hash_key, sortkey_value_dict, ttl, timeout)
        except PegasusError as e:
            return e.errno, None
        return _OK, None

    def multi_get(self, hash_key, sortkey_set, max_kv_count: int = 100, max_kv_size: int = 1000000,
                  no_value: bool = False, timeout: int = 0):
        """(code, {sort_key: value}) for the listed sort keys (None or empty: the whole hash key).
        ERR_INCOMPLETE_DATA with the pairs so far when a limit stopped the server."""
        try:
            r = self.table.multi_get(hash_key, sortkey_set, max_kv_count=max_kv_count,
                                     max_kv_size=max_kv_size, no_value=no_value, timeout_ms=timeout)
        except StorageError as e:
            return e.errno, {}
        except PegasusError as e:
            return e.errno, None
        return (_OK if r.complete else _INCOMPLETE), r.kvs

    def multi_get_opt(self, hash_key, start_sort_key, stop_sort_key, multi_get_options,
                      max_kv_count: int = 100, max_kv_size: int = 1000000, timeout: int = 0):
        """(code, {sort_key: value}) for a sort-key range; see ``MultiGetOptions``."""
        o = multi_get_options if multi_get_options is not None else MultiGetOptions()
        try:
            r = self.table.multi_get_range(
                hash_key, start_sort_key, stop_sort_key, start_inclusive=o.start_inclusive,
                stop_inclusive=o.stop_inclusive, sort_key_filter_type=o.sortkey_filter_type,
                sort_key_filter_pattern=o.sortkey_filter_pattern, no_value=o.no_value,
                reverse=o.reverse, max_kv_count=max_kv_count, max_kv_size=max_kv_size,
                timeout_ms=timeout)
        except StorageError as e:
            return e.errno, {}
        except PegasusError as e:
            return e.errno, None
        return (_OK if r.complete else _INCOMPLETE), r.kvs

    def get_sort_keys(self, hash_key, max_kv_count: int = 100, max_kv_size: int = 1000000,
                      timeout: int = 0):
        """(code, {sort_key: b''}) of the hash key's sort keys."""
        return self.multi_get(hash_key, None, max_kv_count, max_kv_size, True, timeout)

    def multi_del(self, hash_key, sortkey_set, timeout: int = 0):
        """(code, count): count is the number of sort keys sent (the server's answer)."""
        try:
            return _OK, self.table.multi_del(hash_key, sortkey_set, timeout)
        except StorageError as e:
            return e.errno, getattr(e.response, "count", 0)
        except PegasusError as e:
            return e.errno, None

    def sort_key_count(self, hash_key, timeout: int = 0):
        """(code, number of live sort keys under the hash key)."""
        try:
            return _OK, self.table.sort_key_count(hash_key, timeout)
        except StorageError as e:
            return e.errno, getattr(e.response, "count", 0)
        except PegasusError as e:
            return e.errno, None

    def check_and_set(self, hash_key, check_sort_key, check_type: int, check_operand,
                      set_sort_key, set_value, ttl: int = 0, return_check_value: bool = False,
                      timeout: int = 0):
        """(code, CheckAndSetResult): writes ``set_sort_key`` when the check of
        ``check_sort_key`` (a ``cas_check_type``) passes; ``set_succeed`` says whether it did."""
        try:
            return _OK, self.table.check_and_set(hash_key, check_sort_key, check_type, check_operand,
                                                 set_sort_key, set_value, ttl, return_check_value,
                                                 timeout)
        except PegasusError as e:
            return e.errno, None

    # ------------------------------------------------------------------ many hash keys
    def batch_get(self, keys, timeout: int = 0):
        """(code, [value or None, ...]) for ``(hash_key, sort_key)`` pairs, in order."""
        try:
            return _OK, self.table.batch_get(keys, timeout)
        except PegasusError as e:
            return e.errno, None

    def get_scanner(self, hash_key, start_sort_key, stop_sort_key, scan_options=None) -> Scanner:
        """Scanner over one hash key from ``start_sort_key`` to ``stop_sort_key`` (empty: to the
        end of the hash key); inclusiveness from ``scan_options``."""
        spec = (scan_options or ScanOptions()).to_spec()
        return self.table.scanner(hash_key, start_sort_key, stop_sort_key, spec)

    def get_unordered_scanners(self, max_split_count: int, scan_options=None) -> list[Scanner]:
        """At most ``max_split_count`` scanners that together cover the whole table."""
        spec = (scan_options or ScanOptions()).to_spec()
        return self.table.unordered_scanners(max_split_count, spec)


__all__ = ["Pegasus", "PegasusScanner", "MultiGetOptions", "ScanOptions", "filter_type",
           "cas_check_type", "error_types", "DEFAULT_TIMEOUT"]
