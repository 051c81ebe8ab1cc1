"""``Op``: one request to send, as the generator hands it to the runner."""
from __future__ import annotations


class Op:
    """One request to send. ``name`` is the op (see pegload.scenario.ops) and ``params`` its
    static parameters from the scenario (max_kv_count, check_type, records, ...). Fields an op
    does not use are None:

    - ``hash_key``, ``sort_key``: the record (set, get, exist, ttl, remove, incr, check_and_set,
      read_modify_write: get it, then set ``value``),
      the start of a range/scan (multi_get_range, scan), or just ``hash_key`` (multi_get,
      multi_set, multi_del, get_sort_keys, sort_key_count)
    - ``sort_keys``: list of sort keys (multi_get, multi_del; multi_set's order)
    - ``stop_sort_key``: multi_get_range's exclusive stop (b"" = to the end of the hash key)
    - ``value`` (set, check_and_set), ``values`` {sort_key: value} (multi_set), ``ttl`` seconds
    - ``records``: [(hash_key, sort_key), ...] (batch_get)
    - ``increment``: incr's amount
    - verification bookkeeping (``token``, ``writes``, ``insert``, ``counter``): leave it to
      ``WorkerWorkload.complete`` / ``check_*``.

    Read-only once generated: without verification, the generator hands out the same read op
    again for the same key (see ``pegload.workload.generator``).
    """

    __slots__ = ("name", "params", "hash_key", "sort_key", "sort_keys", "stop_sort_key", "value", "values",
                 "records", "ttl", "increment", "token", "writes", "insert", "counter")
    name: str
    params: dict
    hash_key: bytes | None
    sort_key: bytes | None
    sort_keys: list[bytes] | None
    stop_sort_key: bytes | None
    value: bytes | None
    values: dict[bytes, bytes] | None
    records: list[tuple[bytes, bytes]] | None
    ttl: int | None
    increment: int | None
    token: int
    writes: list[tuple[tuple[bytes, bytes], int]] | None
    insert: int
    counter: tuple[bytes, bytes] | None

    def __init__(self, name: str, params: dict, hash_key: bytes | None = None, sort_key: bytes | None = None):
        self.name = name
        self.params = params
        self.hash_key = hash_key
        self.sort_key = sort_key
        self.sort_keys = self.stop_sort_key = None
        self.value = self.values = self.records = self.ttl = self.increment = None
        self.token = -1  # read token (verification mode)
        self.writes = None  # [(key, version), ...] begun (verification mode)
        self.insert = -1  # insert number for `set` with insert: true
        self.counter = None  # counter key reserved by incr (verification mode)

    def __repr__(self) -> str:
        fields = {k: getattr(self, k)
                  for k in ("hash_key", "sort_key", "sort_keys", "stop_sort_key", "records", "ttl", "increment")
                  if getattr(self, k) is not None}
        if self.value is not None:
            fields["value"] = f"<{len(self.value)} bytes>"
        if self.values is not None:
            fields["values"] = f"<{len(self.values)} values>"
        return f"Op({self.name}, {fields})"
