"""Turning a scenario into concrete requests, one worker at a time.

    ww = WorkerWorkload(scenario, worker)          # once per worker process; lives across phases
    load = ww.load_generator()                     # None when the load phase is disabled
    op = load.next_op()                            # ... until None; same Op contract as below
    pw = ww.phase(i)                               # PhaseWorkload for scenario.phases[i]
    pw.schedule                                    # OpenLoopSchedule (open loop) or None (closed)
    pw.measured_ops                                # this worker's share of an op-count phase
    gen = pw.generator(greenlet_index)             # one per greenlet: its own seeded streams
    op = gen.next_op()                             # call right before sending it
    ww.complete(op, applied)                       # after writes (a no-op for reads: needs_complete)

Each op's requests are built by its maker (``makers.py``, one per op of the catalog). Ops are
read-only for whoever sends them: without verification, a read whose request depends only on
its key (a maker registered ``memoisable``: get, exist, scan, ...) is built once per key and
handed out again (bounded memo, ``keys.OP_CACHE_LIMIT`` ops per mix entry and phase, shared by
the greenlets).

Reads in verification mode are judged with ``ww.check_point`` / ``check_presence`` /
``check_scanned`` (see ``WorkerWorkload``). Everything is deterministic for (seed, worker,
greenlet) except where shared worker state is involved by design: which greenlet gets which
insert, and keys skipped because a write to them was in flight (verification mode).
"""
from __future__ import annotations

from collections.abc import Callable

from pegload.scenario.ops import OPS

from .choosers import HotspotChooser, LatestChooser, SequentialChooser, UniformChooser, ZipfianChooser
from .keys import OP_CACHE_LIMIT, InsertLog, KeyCache, KeyNames, KeySpace
from .makers import MAKERS, MakerContext
from .op import Op
from .opmix import OpMix
from .pacing import OpenLoopSchedule, make_load_schedule, worker_schedule
from .rng import derive_seed, make_rng
from .split import load_share, share
from .values import PayloadSource, ValueSizer, VerifyResult, check_value, make_value
from .verify import VerifyState


class WorkerWorkload:
    """The workload state of one worker process: key names, its key space, inserts, and (in
    verification mode) what it wrote. Create once per worker and keep it for all phases.

    After each reply, per op (``applied``: True for error OK; False when the server certainly did
    not apply it - check_and_set's failed check (kTryAgain); None for timeouts, lost connections
    and other errors):

    ==========================================  ==================================================
    op                                          calls
    ==========================================  ==================================================
    set, multi_set, remove, multi_del,          ``complete(op, applied)``
    check_and_set
    read_modify_write                           ``check_point(op, hk, sk, value_read)`` for the get,
                                                then ``complete(op, applied)`` for the set
    incr                                        ``complete(op, applied, new_value)`` -> verdict
    get                                         ``check_point(op, hk, sk, value or None)``
    multi_get                                   ``check_point`` for every sort key asked for
                                                (None when not returned; skip it when the reply
                                                was cut short by max_kv_count/size)
    batch_get                                   ``check_point`` for every (hk, sk) asked for
    exist, ttl                                  ``check_presence(op, hk, sk, found)``
    multi_get_range, scan, unordered_scan       ``check_scanned(op, hk, sk, value)`` per record
    get_sort_keys, sort_key_count               nothing to check
    ==========================================  ==================================================

    With ``no_value`` the values are empty: use ``check_presence`` for multi_get's keys and skip
    the per-record checks of range reads and scans.

    ``complete`` does nothing for reads (``needs_complete(name)`` is False for them): callers may
    skip it. The ``check_*`` methods return None when the scenario does not verify.
    """

    def __init__(self, scenario, worker: int):
        if not 0 <= worker < scenario.workers:
            raise ValueError(f"worker {worker} is not in [0, {scenario.workers})")
        self.scenario = scenario
        self.worker = worker
        self.workers = scenario.workers
        data = scenario.data
        self.names = KeyNames(data.hash_keys, data.sort_keys)
        self.space = KeySpace(data.hash_keys, data.sort_keys, worker, self.workers, owned=scenario.verify)
        self.inserts = InsertLog(data.hash_keys, data.sort_keys, worker, self.workers)
        self.verify = VerifyState() if scenario.verify else None
        self.payloads = None if scenario.verify else PayloadSource(
            data.value_size.max_size, derive_seed(scenario.seed, "payload", worker))
        # record i of the key space -> (hash key, sort key): the hot loop's key lookup
        names, space = self.names, self.space
        hash_keys, sort_keys = names.hash_keys, names.sort_keys

        def record_key(i: int) -> tuple[bytes, bytes]:
            hki, ski = space.record(i)
            return hash_keys[hki], sort_keys[ski]

        self.record_keys = KeyCache(record_key)
        self._sort_key_ring: list[bytes] | None = None

    def sort_key_ring(self) -> list[bytes]:
        """Every sort key name in order, twice: ``ring[start:start + n]`` is a wrapped window."""
        if self._sort_key_ring is None:
            names = self.names.sort_keys
            self._sort_key_ring = [names[i] for i in range(self.scenario.data.sort_keys)] * 2
        return self._sort_key_ring

    # --- building ----------------------------------------------------------------------------
    def load_generator(self) -> LoadGenerator | None:
        """The load phase's op source for this worker (None when the load phase is disabled)."""
        return LoadGenerator(self) if self.scenario.load.enabled else None

    def phase(self, index: int) -> PhaseWorkload:
        return PhaseWorkload(self, index)

    def value_for(self, hash_key: bytes, sort_key: bytes, version: int, size: int, u: float) -> bytes:
        if self.verify is not None:
            return make_value(hash_key, sort_key, version, size)
        # payloads is set exactly when verify is None; per-op (load phase), so no assert
        return self.payloads.payload(size, u)  # type: ignore[union-attr]

    def value_maker(self):
        """``value_for`` without the per-call mode check: ``(hk, sk, version, size, u) -> bytes``."""
        if self.verify is not None:
            return lambda hk, sk, version, size, u: make_value(hk, sk, version, size)
        assert self.payloads is not None  # set exactly when verify is None (once per maker, not per op)
        payload = self.payloads.payload
        return lambda hk, sk, version, size, u: payload(size, u)

    @staticmethod
    def needs_complete(name: str) -> bool:
        """Whether ``complete`` does anything for ops called ``name``: only writes have
        bookkeeping (inserts, versions, counters); for reads it is a no-op and may be skipped."""
        return OPS[name].writes

    # --- after the reply ---------------------------------------------------------------------
    def complete(self, op: Op, applied: bool | None, new_value: int | None = None) -> VerifyResult | None:
        """Call after every op. ``applied``: True = the server acknowledged it (error OK),
        False = certainly not applied (e.g. check_and_set's check failed), None = unknown
        (timeout, connection lost, other errors). ``new_value``: incr's answer.
        Returns the verdict for incr in verification mode, else None."""
        if op.insert >= 0:
            self.inserts.finish(op.insert)
        # op.writes and op.counter (with op.increment) are set only when verifying, so verify is
        # not None there; the per-op path carries no assert for the checker, hence the ignores
        if op.writes is not None:
            verify = self.verify
            for key, version in op.writes:
                verify.end_write(key, version, applied)  # type: ignore[union-attr]
        if op.counter is not None:
            return self.verify.end_incr(  # type: ignore[union-attr]
                op.counter, op.increment, new_value if applied else None)  # type: ignore[arg-type]
        return None

    def check_point(self, op: Op, hash_key: bytes, sort_key: bytes, value: bytes | None) -> VerifyResult | None:
        """Judge a point read (get, multi_get, batch_get entry) of a key the op asked for:
        ``value`` None = not returned. None when not verifying."""
        if self.verify is None:
            return None
        return self.verify.classify((hash_key, sort_key), op.token, value)

    def check_presence(self, op: Op, hash_key: bytes, sort_key: bytes, present: bool) -> VerifyResult | None:
        """Judge exist/ttl: was the record's presence or absence possible?"""
        if self.verify is None:
            return None
        return self.verify.classify_presence((hash_key, sort_key), op.token, present)

    def check_scanned(self, op: Op, hash_key: bytes, sort_key: bytes, value: bytes) -> VerifyResult | None:
        """Judge a record returned by a range read or scan. Records this worker wrote are judged
        fully; other records of the data set (another worker's) for integrity only; anything
        else (counters, other workers' inserts, leftovers of earlier runs in a reused table) is
        not judged (None)."""
        if self.verify is None:
            return None
        key = (hash_key, sort_key)
        if self.verify.knows(key):
            return self.verify.classify(key, op.token, value)
        parsed, sk_index = KeyNames.parse_hash_key(hash_key), KeyNames.parse_sort_key(sort_key)
        data = self.scenario.data
        if (parsed is not None and parsed[0] == b"hk" and parsed[1] < data.hash_keys
                and sk_index is not None and sk_index < data.sort_keys):
            return check_value(hash_key, sort_key, value)
        return None


class LoadGenerator:
    """Writes this worker's share of the data set: its hash keys (≡ worker mod workers), each
    in calls of ``load.batch`` consecutive sort keys (multi_set; ``set`` when batch is 1).
    Greenlets share one LoadGenerator and call ``next_op()`` until it returns None."""

    def __init__(self, ww: WorkerWorkload):
        sc = ww.scenario
        self.ww = ww
        self.records, self.calls = load_share(sc.data.hash_keys, sc.data.sort_keys, sc.load.batch,
                                              ww.workers, ww.worker)
        self.schedule: OpenLoopSchedule | None = make_load_schedule(sc.load, ww.worker, ww.workers)
        self._batch = max(1, min(sc.load.batch, sc.data.sort_keys))
        self._hash_key_index = ww.worker
        self._sort_key = 0
        self._rng = make_rng(sc.seed, "load", ww.worker)
        self._sizer = ValueSizer(sc.data.value_size, self._rng.random)
        self._params = {"ttl": sc.data.ttl}
        self.issued_calls = 0
        self.issued_records = 0

    def next_op(self) -> Op | None:
        sc, ww = self.ww.scenario, self.ww
        if self._hash_key_index >= sc.data.hash_keys:
            return None
        hk = ww.names.hash_key(self._hash_key_index)
        first = self._sort_key
        last = min(first + self._batch, sc.data.sort_keys)
        if last >= sc.data.sort_keys:
            self._hash_key_index += ww.workers
            self._sort_key = 0
        else:
            self._sort_key = last
        sort_keys = [ww.names.sort_key(s) for s in range(first, last)]
        verify = ww.verify
        versions = verify.begin_writes([(hk, sk) for sk in sort_keys]) if verify is not None else None
        rnd = self._rng.random
        if self._batch == 1:
            op = Op("set", self._params)
            op.hash_key, op.sort_key = hk, sort_keys[0]
            op.value = ww.value_for(hk, sort_keys[0], versions[0] if versions else 0, self._sizer.next(), rnd())
        else:
            op = Op("multi_set", self._params)
            op.hash_key, op.sort_keys = hk, sort_keys
            op.values = {sk: ww.value_for(hk, sk, versions[i] if versions else 0, self._sizer.next(), rnd())
                         for i, sk in enumerate(sort_keys)}
        op.ttl = sc.data.ttl
        if versions is not None:
            op.writes = [((hk, sk), v) for sk, v in zip(sort_keys, versions)]
        self.issued_calls += 1
        self.issued_records += len(sort_keys)
        return op


class PhaseWorkload:
    """One worker's view of scenario.phases[index]: its schedule (open loop) or op budget."""

    def __init__(self, ww: WorkerWorkload, index: int):
        self.ww = ww
        self.index = index
        self.phase = ww.scenario.phases[index]
        # the worker's share of the one seeded schedule the coordinator plans with
        self.schedule: OpenLoopSchedule | None = worker_schedule(ww.scenario, index, ww.worker, ww.workers)
        if self.phase.ops is None:
            self.measured_ops = None
        elif self.schedule is not None:
            self.measured_ops = self.schedule.measured_slots
        else:
            self.measured_ops = share(self.phase.ops, ww.workers, ww.worker)
        self._read_ops: dict[int, KeyCache] = {}  # mix entry -> key index -> Op, shared by the greenlets

    def generator(self, greenlet: int) -> OpGenerator:
        return OpGenerator(self, greenlet)

    def read_ops(self, entry: int, make) -> KeyCache:
        """The memo of built read ops of mix entry ``entry`` (see the module docstring)."""
        ops = self._read_ops.get(entry)
        if ops is None:
            ops = self._read_ops[entry] = KeyCache(make, OP_CACHE_LIMIT)
        return ops


class OpGenerator:
    """The op stream of one greenlet in one phase: weighted op choice, key choice, values.

    ``next_op()`` runs once per op, so each mix entry gets a *maker* closure (its op's maker in
    ``makers.MAKERS``) specialised at construction for its op, key distribution and mode
    (verification or not), with names, record keys and non-verified read ops memoised
    (``keys.KeyCache``). The draws from the greenlet's random stream are the same whichever path
    builds the op: one for the mix, then the key chooser's, then the op's own (window start,
    value size, payload offset)."""

    def __init__(self, pw: PhaseWorkload, greenlet: int):
        ww, sc = pw.ww, pw.ww.scenario
        self.ww = ww
        self.greenlet = greenlet
        self.concurrency = sc.concurrency
        self.rng = make_rng(sc.seed, "phase", pw.index, ww.worker, greenlet)
        self._random = self.rng.random
        self._sizer = ValueSizer(sc.data.value_size, self._random)
        self._makers = [self._maker(pw, entry, spec) for entry, spec in enumerate(pw.phase.mix)]
        # next_op() -> Op: the mix's closure itself, so a call costs no method dispatch
        self.next_op: Callable[[], Op] = OpMix([op.weight for op in pw.phase.mix]).caller(self._random, self._makers)

    def _maker(self, pw: PhaseWorkload, entry: int, spec) -> Callable[[], Op]:
        maker = MAKERS[spec.name]
        # latest keys follow the inserts: the record behind a rank moves, so nothing is memoised
        memoised = (self.ww.verify is None and maker.memoisable
                    and (spec.keys is None or spec.keys.distribution != "latest"))
        return maker.build(MakerContext(self, pw, entry, spec, memoised))

    # --- key choice (for the makers, through MakerContext) --------------------------------------
    def chooser(self, keys, n: int) -> Callable[[], int]:
        """() -> an index in [0, n) drawn by the key distribution ``keys`` (not ``latest``)."""
        ww, sc = self.ww, self.ww.scenario
        d = keys.distribution
        if d == "uniform":
            return UniformChooser(n, self._random).next
        if d == "zipfian":
            return ZipfianChooser(n, keys.theta, self._random, seed=sc.seed).next
        if d == "hotspot":
            return HotspotChooser(n, keys.hot_fraction, keys.hot_ops, self._random).next
        if d == "sequential":
            if ww.space.owned:  # the space is already this worker's
                return SequentialChooser(n, self.greenlet, self.concurrency).next
            return SequentialChooser(n, ww.worker * self.concurrency + self.greenlet,
                                     ww.workers * self.concurrency).next
        raise ValueError(f"no chooser for distribution {d!r} over {n} items")

    def record_picker(self, keys) -> Callable[[], tuple[int, int]]:
        """() -> (hash key index, sort key index)."""
        ww = self.ww
        space, inserts = ww.space, ww.inserts
        if keys.distribution == "latest":
            latest = LatestChooser(keys.theta, self._random, lambda: space.records + inserts.acked).next

            def pick_latest():
                rank = latest()
                acked = inserts.acked
                if rank < acked:
                    return inserts.record(acked - 1 - rank)
                return space.record(space.records - 1 - (rank - acked))

            return pick_latest
        choose = self.chooser(keys, space.records)
        record = space.record
        return lambda: record(choose())

    def record_keys(self, keys) -> Callable[[], tuple[bytes, bytes]]:
        """() -> (hash key, sort key) names of a record."""
        ww = self.ww
        if keys.distribution == "latest":  # records beyond the data set: not indices of the space
            hk_names, sk_names = ww.names.hash_keys, ww.names.sort_keys
            pick = self.record_picker(keys)

            def latest_keys():
                hki, ski = pick()
                return hk_names[hki], sk_names[ski]

            return latest_keys
        choose = self.chooser(keys, ww.space.records)
        record_keys = ww.record_keys
        return lambda: record_keys[choose()]

    def hash_key_picker(self, keys) -> Callable[[], int]:
        """() -> hash key index."""
        space = self.ww.space
        choose = self.chooser(keys, space.hash_keys)
        index = space.hash_key_index
        return lambda: index(choose())

    # --- verification fallbacks: walk the worker's hash keys for one without a write in flight --
    def _walk_hash_keys(self):
        space = self.ww.space
        start = int(self._random() * space.hash_keys)
        for j in range(space.hash_keys):
            yield self.ww.names.hash_key(space.hash_key_index((start + j) % space.hash_keys))

    # The walks run only from the verification makers, after _KEY_TRIES busy keys: verify is set.
    def walk_free_record(self, tombstone: bool):
        verify = self.ww.verify
        assert verify is not None
        sk = self.ww.names.sort_key(int(self._random() * self.ww.scenario.data.sort_keys))
        for hk in self._walk_hash_keys():
            v = verify.begin_write((hk, sk), tombstone)
            if v is not None:
                return hk, sk, v
        raise RuntimeError("verification: every key of this worker has a write in flight "
                           "(more greenlets than hash keys?)")

    def walk_free_window(self, sks, tombstone: bool):
        verify = self.ww.verify
        assert verify is not None
        for hk in self._walk_hash_keys():
            versions = verify.begin_writes([(hk, sk) for sk in sks], tombstone)
            if versions is not None:
                return hk, sks, versions
        raise RuntimeError("verification: every hash key of this worker has a write in flight "
                           "(more greenlets than hash keys?)")

    def walk_free_counter(self):
        verify = self.ww.verify
        assert verify is not None
        sk = self.ww.names.sort_key(int(self._random() * self.ww.scenario.data.sort_keys))
        for hk in self._walk_hash_keys():
            key = (b"ct" + hk[2:], sk)
            if verify.begin_incr(key):
                return key
        raise RuntimeError("verification: every counter of this worker has an increment in flight")
