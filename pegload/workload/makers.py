"""Op makers: for every scenario op, how one greenlet builds its requests.

A maker is registered for one or more op names with ``@makes(...)``; it receives a
:class:`MakerContext` for one mix entry of one greenlet's generator and returns the closure that
``next_op()`` calls: ``() -> Op``. The closure is the per-op hot path, so a maker binds what it
needs to locals once and specialises on the mode (verification or not) before returning it.

``memoisable=True`` says the op's request is a function of its key alone: without verification
(no read token) and without ``latest`` keys (whose records move), the generator then builds one
``Op`` per key and hands it out again (``MakerContext.memoised``, ``MakerContext.memo``).

Draws from the greenlet's random stream, in this order whatever path builds the op: one for the
mix (``OpMix``), then the key chooser's, then the op's own (window start, value size, payload
offset). Keep that order in a new maker: it is what makes a stream replay per (seed, worker,
greenlet).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pegload.scenario.ops import OpTable

from .keys import CACHE_LIMIT, KeyCache
from .op import Op

if TYPE_CHECKING:
    from pegload.scenario.schema import OpSpec

    from .generator import OpGenerator, PhaseWorkload

_KEY_TRIES = 16  # random picks before the verification-mode fallback walks to a free key

NextOp = Callable[[], Op]


@dataclass(frozen=True)
class OpMaker:
    build: Callable[[MakerContext], NextOp]
    memoisable: bool  # the request depends on the key alone: unverified reads are memoised


MAKERS: OpTable[OpMaker] = OpTable("maker")


def makes(*names: str, memoisable: bool = False) -> Callable:
    """Register the decorated ``build(ctx) -> next_op`` as the maker of ``names``."""

    def register(build: Callable[[MakerContext], NextOp]) -> Callable[[MakerContext], NextOp]:
        for name in names:
            MAKERS.add(name, OpMaker(build, memoisable))
        return build

    return register


class MakerContext:
    """What a maker may use for one mix entry (``spec``) of one greenlet's generator: the op's
    name and parameters, the worker's key names and verification state, the greenlet's random
    stream and value sizes, and builders for key choice (each call builds a new chooser, so a
    maker asks once for what it needs)."""

    def __init__(self, gen: OpGenerator, pw: PhaseWorkload, entry: int, spec: OpSpec, memoised: bool):
        ww = gen.ww
        self._gen, self._pw, self._entry, self._keys = gen, pw, entry, spec.keys
        self.name: str = spec.name
        self.params: dict = spec.params
        self.unit: str = spec.info.unit
        self.memoised = memoised  # build one Op per key with memo() and memo_key() (see above)
        self.ww = ww
        self.verify = ww.verify  # VerifyState, or None when the scenario does not verify
        self.names = ww.names
        self.hash_key_names = ww.names.hash_keys  # index -> name (bounded memo)
        self.sort_key_names = ww.names.sort_keys
        self.space = ww.space
        self.random: Callable[[], float] = gen._random
        self.size: Callable[[], int] = gen._sizer.next  # the next value size
        self.value_for = ww.value_maker()  # (hk, sk, version, size, u) -> bytes
        # verification: when _KEY_TRIES random counters all have an increment in flight
        self.walk_free_counter: Callable[[], tuple[bytes, bytes]] = gen.walk_free_counter

    # --- key choice ----------------------------------------------------------------------------
    def record_keys(self) -> Callable[[], tuple[bytes, bytes]]:
        """() -> (hash key, sort key) names of a record."""
        return self._gen.record_keys(self._keys)

    def record_picker(self) -> Callable[[], tuple[int, int]]:
        """() -> (hash key index, sort key index) of a record."""
        return self._gen.record_picker(self._keys)

    def hash_key_picker(self) -> Callable[[], int]:
        """() -> a hash key index."""
        return self._gen.hash_key_picker(self._keys)

    def memo_key(self) -> Callable[[], int]:
        """Memoised ops: () -> the memo's key, an index of the worker's key space (a record, or a
        hash key for ``hash_key`` ops)."""
        space = self.space
        return self._gen.chooser(self._keys, space.hash_keys if self.unit == "hash_key" else space.records)

    def memo(self, make: Callable[[int], Op]) -> KeyCache:
        """Memoised ops: key index -> its Op, built once by ``make`` and shared by the phase's
        greenlets."""
        return self._pw.read_ops(self._entry, make)

    def window(self) -> Callable[[int], list[bytes]]:
        """``window(n)``: n consecutive sort keys from a random start, wrapping at the end."""
        total, rnd = self.ww.scenario.data.sort_keys, self.random
        if total <= CACHE_LIMIT:
            ring, total_f, trunc = self.ww.sort_key_ring(), float(total), math.trunc

            def ring_window(n: int) -> list[bytes]:
                start = trunc(rnd() * total_f)  # == int(rnd() * total)
                return ring[start:start + n]

            return ring_window
        names = self.sort_key_names

        def named_window(n: int) -> list[bytes]:
            start = int(rnd() * total)
            return [names[(start + x) % total] for x in range(n)]

        return named_window

    # --- writes: keys free of writes in flight (verification) ---------------------------------
    def free_record(self, tombstone: bool = False) -> Callable[[], tuple[bytes, bytes, int]]:
        """() -> (hash key, sort key, version) of a record to write; in verification mode one with
        no write in flight, its write begun (version 0 without verification)."""
        keys, verify = self.record_keys(), self.verify
        if verify is None:
            def any_record() -> tuple[bytes, bytes, int]:
                hk, sk = keys()
                return hk, sk, 0

            return any_record
        walk = self._gen.walk_free_record

        def free() -> tuple[bytes, bytes, int]:
            for _ in range(_KEY_TRIES):
                key = keys()
                v = verify.begin_write(key, tombstone)
                if v is not None:
                    return key[0], key[1], v
            return walk(tombstone)

        return free

    def free_window(self, n: int, tombstone: bool = False) -> Callable[[], tuple[bytes, list[bytes], list[int] | None]]:
        """() -> (hash key, n sort keys, versions) to write; versions None without verification."""
        pick, window, hk_names, verify = self.hash_key_picker(), self.window(), self.hash_key_names, self.verify
        if verify is None:
            return lambda: (hk_names[pick()], window(n), None)
        walk = self._gen.walk_free_window

        def free() -> tuple[bytes, list[bytes], list[int] | None]:
            for _ in range(_KEY_TRIES):
                hk = hk_names[pick()]
                sks = window(n)
                versions = verify.begin_writes([(hk, sk) for sk in sks], tombstone)
                if versions is not None:
                    return hk, sks, versions
            return walk(window(n), tombstone)

        return free


# --- writes ----------------------------------------------------------------------------------------
def _record_write(c: MakerContext, *, ttl: int | None, value: bool = True, tombstone: bool = False,
                  read_token: bool = False) -> NextOp:
    """A versioned write of one record: set, remove, check_and_set, read_modify_write."""
    name, params, verify = c.name, c.params, c.verify
    free, value_for, size, rnd = c.free_record(tombstone), c.value_for, c.size, c.random

    def make() -> Op:
        hk, sk, v = free()
        op = Op(name, params, hk, sk)
        op.ttl = ttl
        if value:
            op.value = value_for(hk, sk, v, size(), rnd())
        if verify is not None:
            op.writes = [((hk, sk), v)]
            if read_token:
                op.token = verify.read_token()
        return op

    return make


def _window_write(c: MakerContext, *, ttl: int | None, values: bool, tombstone: bool = False) -> NextOp:
    """A versioned write of a window of sort keys of one hash key: multi_set, multi_del."""
    name, params = c.name, c.params
    free, value_for, size, rnd = c.free_window(params["sort_keys"], tombstone), c.value_for, c.size, c.random

    def make() -> Op:
        hk, sks, versions = free()
        op = Op(name, params, hk)
        op.sort_keys, op.ttl = sks, ttl
        if values:
            op.values = {sk: value_for(hk, sk, versions[i] if versions else 0, size(), rnd())
                         for i, sk in enumerate(sks)}
        if versions is not None:
            op.writes = [((hk, sk), v) for sk, v in zip(sks, versions)]
        return op

    return make


def _insert(c: MakerContext) -> NextOp:
    """set with ``insert: true``: the next new record after the data set (``latest`` follows)."""
    name, params, verify, ttl = c.name, c.params, c.verify, c.params["ttl"]
    inserts, hk_names, sk_names = c.ww.inserts, c.hash_key_names, c.sort_key_names
    value_for, size, rnd = c.value_for, c.size, c.random

    def make() -> Op:
        k = inserts.issue()
        hki, ski = inserts.record(k)
        hk, sk = hk_names[hki], sk_names[ski]
        v = verify.begin_write((hk, sk)) if verify is not None else 0
        op = Op(name, params, hk, sk)
        op.insert = k
        op.ttl = ttl
        op.value = value_for(hk, sk, v, size(), rnd())
        if verify is not None:
            # a new record has no write in flight, so begin_write gave a version, not None
            # (per op: no assert for the checker)
            op.writes = [((hk, sk), v)]  # type: ignore[list-item]
        return op

    return make


@makes("set")
def _set(c: MakerContext) -> NextOp:
    return _insert(c) if c.params["insert"] else _record_write(c, ttl=c.params["ttl"])


@makes("remove")
def _remove(c: MakerContext) -> NextOp:
    return _record_write(c, ttl=None, value=False, tombstone=True)


@makes("check_and_set")
def _check_and_set(c: MakerContext) -> NextOp:
    return _record_write(c, ttl=0)


@makes("read_modify_write")
def _read_modify_write(c: MakerContext) -> NextOp:
    return _record_write(c, ttl=c.params["ttl"], read_token=True)


@makes("multi_set")
def _multi_set(c: MakerContext) -> NextOp:
    return _window_write(c, ttl=c.params["ttl"], values=True)


@makes("multi_del")
def _multi_del(c: MakerContext) -> NextOp:
    return _window_write(c, ttl=None, values=False, tombstone=True)


@makes("incr")
def _incr(c: MakerContext) -> NextOp:
    """Counters live under their own hash keys (``ct...``), one per data record."""
    name, params, verify, increment = c.name, c.params, c.verify, c.params["increment"]
    pick, ct_names, sk_names = c.record_picker(), c.names.counter_keys, c.sort_key_names
    walk = c.walk_free_counter

    def make() -> Op:
        for _ in range(_KEY_TRIES):
            hki, ski = pick()
            key = (ct_names[hki], sk_names[ski])
            if verify is None or verify.begin_incr(key):
                break
        else:
            key = walk()
        op = Op(name, params, *key)
        op.increment = increment
        if verify is not None:
            op.counter = key
        return op

    return make


# --- reads ---------------------------------------------------------------------------------------
def _memoised(c: MakerContext, make: Callable[[int], Op]) -> NextOp:
    ops, choose = c.memo(make), c.memo_key()

    def make_cached() -> Op:
        return ops[choose()]

    return make_cached


@makes("get", "exist", "ttl", "scan", memoisable=True)
def _record_read(c: MakerContext) -> NextOp:
    """One record (scan: its start)."""
    name, params, verify = c.name, c.params, c.verify
    if c.memoised:
        record, hk_names, sk_names = c.space.record, c.hash_key_names, c.sort_key_names

        def read_op(i: int) -> Op:
            hki, ski = record(i)
            return Op(name, params, hk_names[hki], sk_names[ski])

        return _memoised(c, read_op)
    keys = c.record_keys()

    def make() -> Op:
        op = Op(name, params, *keys())
        if verify is not None:
            op.token = verify.read_token()
        return op

    return make


@makes("multi_get_range", memoisable=True)
def _multi_get_range(c: MakerContext) -> NextOp:
    name, params, verify, span = c.name, c.params, c.verify, c.params["span"]
    hk_names, sk_names, sort_key = c.hash_key_names, c.sort_key_names, c.names.sort_key

    def range_op(hki: int, ski: int) -> Op:
        op = Op(name, params, hk_names[hki], sk_names[ski])
        op.stop_sort_key = sort_key(ski + span) if span else b""
        return op

    if c.memoised:
        record = c.space.record
        return _memoised(c, lambda i: range_op(*record(i)))
    pick = c.record_picker()

    def make() -> Op:
        op = range_op(*pick())
        if verify is not None:
            op.token = verify.read_token()
        return op

    return make


@makes("get_sort_keys", "sort_key_count", memoisable=True)
def _hash_key_read(c: MakerContext) -> NextOp:
    name, params, hk_names = c.name, c.params, c.hash_key_names
    if c.memoised:
        hash_key_index = c.space.hash_key_index
        return _memoised(c, lambda j: Op(name, params, hk_names[hash_key_index(j)]))
    pick = c.hash_key_picker()

    def make() -> Op:
        return Op(name, params, hk_names[pick()])

    return make


@makes("multi_get")
def _multi_get(c: MakerContext) -> NextOp:
    """A window of sort keys from a random start: not a function of the key alone."""
    name, params, verify, n = c.name, c.params, c.verify, c.params["sort_keys"]
    pick, window, hk_names = c.hash_key_picker(), c.window(), c.hash_key_names

    def make() -> Op:
        op = Op(name, params, hk_names[pick()])
        op.sort_keys = window(n)
        if verify is not None:
            op.token = verify.read_token()
        return op

    return make


@makes("batch_get")
def _batch_get(c: MakerContext) -> NextOp:
    name, params, verify, n = c.name, c.params, c.verify, c.params["records"]
    keys = c.record_keys()

    def make() -> Op:
        op = Op(name, params)
        op.records = [keys() for _ in range(n)]
        if verify is not None:
            op.token = verify.read_token()
        return op

    return make


@makes("unordered_scan", memoisable=True)
def _unordered_scan(c: MakerContext) -> NextOp:
    name, params, verify = c.name, c.params, c.verify
    if c.memoised:
        ops = c.memo(lambda _: Op(name, params))
        return lambda: ops[0]

    def make() -> Op:
        op = Op(name, params)
        if verify is not None:
            op.token = verify.read_token()
        return op

    return make


MAKERS.check_complete()
