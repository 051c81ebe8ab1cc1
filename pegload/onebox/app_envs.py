"""Table environments (app envs) and the throttling they switch on, per replica server.

The envs of a table live here (set from the CLI, the Python API, the control channel or the meta
RPC ``RPC_CM_UPDATE_APP_ENV``); every replica server holding a partition keeps its own
controllers for it, as each real replica does, and they are reconfigured at once when an env
changes (a real replica learns new envs on its next config sync with the meta). A value the
replica cannot parse switches that rule off with a warning, as upstream does; the meta and the
CLI refuse such values up front.

Where each rule is consulted (``replica_throttle.cpp``, ``replica.cpp``, ``replica_2pc.cpp``):

* reads (not backup requests): ``replica.read_throttling`` (1 unit each) after the "replica not
  on this node" check and before the "am I primary" check;
* backup reads: ``replica.backup_request_throttling``; its reject drops the request unanswered;
* writes: after every admission check, ``replica.write_throttling`` (1 unit) then, if that
  passed, ``replica.write_throttling_by_size`` (the request body's bytes);
* ``replica.read_throttling_by_size`` in the storage layer: a read arriving while the bucket
  is empty is answered ERR_BUSY at once (its request counter still counts it); after each read
  the bytes it returned are charged (see :func:`read_charge`).
"""
from __future__ import annotations

import logging
import time

from pegload.client.wire import (
    RPC_BATCH_GET,
    RPC_CHECK_AND_MUTATE,
    RPC_CHECK_AND_SET,
    RPC_GET,
    RPC_GET_SCANNER,
    RPC_INCR,
    RPC_MULTI_GET,
    RPC_SCAN,
    RPC_SORTKEY_COUNT,
    RPC_TTL,
    RPCS,
)
from pegload.client.wire.errors import ERR_INVALID_STATE

from .throttling import (
    BACKUP_QPS,
    DELAY,
    PASS,
    READ_QPS,
    READ_SIZE,
    REJECT,
    THROTTLING_KEYS,
    WRITE_QPS,
    WRITE_SIZE,
    ThrottleParseError,
    TokenBucketController,
    WindowController,
    validate_env,
)

log = logging.getLogger("pegload.onebox")
DROP = "drop"  # a rejected backup request: never answered

# RPCs whose storage handler checks the read-size bucket first (pegasus_server_impl.cpp)
SIZE_CHECKED = frozenset((RPC_GET, RPC_MULTI_GET, RPC_BATCH_GET, RPC_SORTKEY_COUNT, RPC_TTL,
                          RPC_GET_SCANNER, RPC_SCAN))


class AppEnvError(ValueError):
    """An env request naming an unknown table, an unsupported key or a bad value."""


class ReplicaThrottles:
    """The controllers of one partition on one replica server."""

    __slots__ = ("read_qps", "write_qps", "write_size", "backup_qps", "read_size")

    def __init__(self, clock, mono) -> None:
        self.read_qps = WindowController(clock)
        self.write_qps = WindowController(clock)
        self.write_size = WindowController(clock)
        self.backup_qps = WindowController(clock)
        self.read_size = TokenBucketController(mono)

    def by_key(self):
        return ((READ_QPS, self.read_qps), (WRITE_QPS, self.write_qps), (WRITE_SIZE, self.write_size),
                (BACKUP_QPS, self.backup_qps), (READ_SIZE, self.read_size))


def read_charge(name: str, args, resp) -> int:
    """Bytes a read takes from the read-size bucket (``capacity_unit_calculator``): the key and
    value bytes returned, 1 when nothing was found; 1 for sortkey_count, ttl and incr; hash key +
    check sort key for check_and_set / check_and_mutate. 0 = not charged."""
    if name == RPC_GET:
        return len(args) + len(resp.value) if resp.error == 0 else 1
    if name == RPC_MULTI_GET:
        if not resp.kvs:
            return 1
        hk = len(args.hash_key)
        return sum(hk + len(kv.key) + len(kv.value) for kv in resp.kvs)
    if name == RPC_BATCH_GET:
        if not resp.data:
            return 1
        return sum(len(d.hash_key) + len(d.sort_key) + len(d.value) for d in resp.data)
    if name in (RPC_GET_SCANNER, RPC_SCAN):
        if not resp.kvs:
            return 1
        return sum(len(kv.key) + len(kv.value) for kv in resp.kvs)
    if name in (RPC_SORTKEY_COUNT, RPC_TTL, RPC_INCR):
        return 1
    if name in (RPC_CHECK_AND_SET, RPC_CHECK_AND_MUTATE):
        return len(args.hash_key) + len(args.check_sort_key)
    return 0


class AppEnvs:
    """Envs per table and the throttling state of every (replica server, partition)."""

    def __init__(self, cluster, clock=time.time, mono=time.monotonic) -> None:
        self.cluster = cluster
        self._clock = clock
        self._mono = mono
        self.envs: dict[str, dict[str, str]] = {}  # table name -> key -> value
        # (replica index, app_id, partition index) -> ReplicaThrottles; only for tables with envs
        self.throttles: dict[tuple[int, int, int], ReplicaThrottles] = {}
        self.size_gated: set[int] = set()  # app ids with an active read-size bucket
        self.active = False  # fast path: no throttling env anywhere

    # ------------------------------------------------------------------ env changes
    def _table(self, name: str):
        t = self.cluster.tables.get(name)
        if t is None:
            raise AppEnvError(f"no table {name!r} (have: {', '.join(sorted(self.cluster.tables))})")
        return t

    def set(self, table: str, values: dict, validate: bool = True) -> dict:
        """Set envs of a table. With ``validate`` (the CLI, the API's default, the meta RPC) a
        value the meta would refuse raises AppEnvError; without, it is stored as given and the
        replicas treat it as the real ones do (rule off, warning logged)."""
        t = self._table(table)
        for key, value in values.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise AppEnvError(f"app env {key!r}={value!r}: keys and values are strings")
            if key not in THROTTLING_KEYS:
                raise AppEnvError(f"app env {key!r} is not emulated by the onebox "
                                  f"(supported: {', '.join(THROTTLING_KEYS)})")
            if validate:
                try:
                    validate_env(key, value)
                except ThrottleParseError as e:
                    raise AppEnvError(f"app env {key}={value!r} is invalid: {e}") from None
        self.envs.setdefault(t.name, {}).update(values)
        self._apply(t)
        return dict(self.envs[t.name])

    def delete(self, table: str, keys) -> dict:
        t = self._table(table)
        mine = self.envs.get(t.name, {})
        for k in keys:
            mine.pop(k, None)
        self._apply(t)
        return dict(mine)

    def clear(self, table: str, prefix: str = "") -> dict:
        """Remove every env (empty prefix) or those named ``prefix.*``, as the meta's clear."""
        t = self._table(table)
        mine = self.envs.get(t.name, {})
        for k in list(mine):
            if not prefix or k.startswith(prefix + "."):
                del mine[k]
        self._apply(t)
        return dict(mine)

    def get(self, table: str | None = None) -> dict:
        if table is not None:
            return dict(self.envs.get(self._table(table).name, {}))
        return {name: dict(v) for name, v in self.envs.items() if v}

    def _apply(self, table) -> None:
        """Reconfigure every replica's controllers of ``table`` from its envs."""
        envs = self.envs.get(table.name, {})
        if not envs:
            for key in [k for k in self.throttles if k[1] == table.app_id]:
                del self.throttles[key]
        else:
            warned = set()
            for r in range(len(self.cluster.replicas)):
                for i in range(table.partition_count):
                    key = (r, table.app_id, i)
                    rt = self.throttles.get(key)
                    if rt is None:
                        rt = self.throttles[key] = ReplicaThrottles(self._clock, self._mono)
                    for env_key, ctl in rt.by_key():
                        value = envs.get(env_key)
                        if value is None:
                            ctl.reset()
                            continue
                        try:
                            ctl.configure(value, table.partition_count)
                        except ThrottleParseError as e:
                            ctl.reset()
                            if env_key not in warned:  # once per env, not once per replica
                                warned.add(env_key)
                                log.warning("table %s: parse env failed, key = %r, value = %r, error = %s;"
                                            " throttling %s is off", table.name, env_key, value, e, env_key)
        self.size_gated = {k[1] for k, rt in self.throttles.items() if rt.read_size.enabled}
        self.active = bool(self.throttles)

    # ------------------------------------------------------------------ per request
    def throttle(self, replica: int, req, body_len: int, err):
        """Replica-level throttling of one request, given the admission error so far
        (``err``). Returns ``(None, 0)`` to go on, else ``(DELAY | REJECT | DROP, seconds,
        counter name)``: DELAY = process after the wait, REJECT = ERR_BUSY after the wait."""
        h = req.header
        rt = self.throttles.get((replica, h.app_id, h.partition_index))
        if rt is None:
            return None, 0.0, None
        spec = RPCS.get(req.name)
        if spec is None:
            return None, 0.0, None
        timeout = h.client_timeout
        if spec.is_write:
            if err is not None:
                return None, 0.0, None  # writes are throttled after every admission check
            kind, ms = rt.write_qps.control(timeout, 1)
            if kind is PASS:
                kind, ms = rt.write_size.control(timeout, body_len)
            what = "write"
        elif h.is_backup_request:
            if err is not None:
                return None, 0.0, None
            kind, ms = rt.backup_qps.control(timeout, 1)
            if kind is REJECT:
                return DROP, 0.0, "throttling_rejected_backup_requests"
            what = "backup"
        else:
            # reads: before the primary check, so a secondary's refusal is throttled too
            if err is not None and err != ERR_INVALID_STATE:
                return None, 0.0, None
            kind, ms = rt.read_qps.control(timeout, 1)
            what = "read"
        if kind is PASS:
            return None, 0.0, None
        if kind is DELAY:
            return DELAY, ms / 1000.0, f"throttling_delayed_{what}_requests"
        return REJECT, ms / 1000.0, f"throttling_rejected_{what}_requests"

    def size_bucket(self, replica: int, h):
        """The read-size bucket of a partition on a replica when one is on, else None."""
        if h.app_id not in self.size_gated:
            return None
        rt = self.throttles.get((replica, h.app_id, h.partition_index))
        return rt.read_size if rt is not None and rt.read_size.enabled else None


__all__ = ["AppEnvs", "AppEnvError", "DELAY", "REJECT", "DROP", "SIZE_CHECKED", "read_charge"]
