"""Seeded, pure workload generators (no I/O): keys, values, op mix, pacing, work split,
verification. Used in the hot loop of worker processes: a few µs per op.

Main entry (``generator.py``)::

    from pegload.workload import WorkerWorkload

    ww = WorkerWorkload(scenario, worker)      # once per worker process, kept across phases
    load = ww.load_generator()                 # None if the load phase is disabled
    #   load.records / load.calls: this worker's share; load.schedule: OpenLoopSchedule or None
    #   op = load.next_op()  -> Op (multi_set, or set when batch is 1) ... None when done
    pw = ww.phase(i)                           # scenario.phases[i]
    #   pw.schedule: OpenLoopSchedule (open loop) or None; pw.measured_ops: op-count share or None
    gen = pw.generator(greenlet)               # one per greenlet
    op = gen.next_op()                         # -> Op; call right before sending
    ww.complete(op, applied, new_value=None)   # after every write (applied: True / False / None);
    #   a no-op for reads: ww.needs_complete(op.name) says which ops need it
    #   ops are read-only: unverified reads are memoised per key and handed out again
    ww.check_point(op, hk, sk, value_or_None)  # verification verdicts (None when not verifying)
    ww.check_presence(op, hk, sk, present)
    ww.check_scanned(op, hk, sk, value)

Per op (``makers``): ``MAKERS`` holds each scenario op's maker, registered with ``@makes(name)``:
how one greenlet builds that op's requests (``Op``, in ``op.py``) from a ``MakerContext``, and
whether unverified reads of it may be memoised.

Building blocks, usable alone:

- ``split``: ``split_count(total, parts)``, ``share(total, parts, i)``, ``load_share(...)``.
- ``schedule``: ``PhaseSchedule``, the one owner of an open-loop phase's plan (slot times for
  uniform or Poisson arrivals, ``measured_slots``, ``planned_s``, ``rate_at(t)``,
  ``expected_ops(t0, t1)``); ``phase_schedule(scenario, index)`` builds it seeded from the
  scenario (the coordinator's ``PhasePlan`` and the workers use the same call).
- ``pacing``: ``OpenLoopSchedule``, one worker's share of a ``PhaseSchedule``
  (``next() -> (intended_ns, measured) | None``); ``worker_schedule(scenario, index, worker,
  workers)``, ``make_load_schedule(load, worker, workers)``.
- ``choosers``: Uniform/Zipfian/Latest/Hotspot/Sequential choosers (``chooser.next() -> index``).
- ``keys``: ``KeyNames`` (hk00001234 / sk00012 / ct00001234, with bounded memos ``hash_keys[i]``
  ...), ``KeySpace``, ``InsertLog``, ``KeyCache`` (the bounded memo).
- ``values``: ``make_value(hk, sk, version, size)``, ``check_value(hk, sk, value) -> VerifyResult``,
  ``ValueSizer``, ``PayloadSource``, statuses CORRECT / STALE / CORRUPT / MISSING.
- ``verify``: ``VerifyState`` (single-writer version bookkeeping).
- ``opmix``: ``OpMix(weights).caller(random, makers)``; ``rng``: ``derive_seed``, ``make_rng``.
"""
from .generator import LoadGenerator, Op, OpGenerator, PhaseWorkload, WorkerWorkload
from .pacing import OpenLoopSchedule, make_load_schedule, worker_schedule
from .schedule import PhaseSchedule, phase_schedule
from .split import load_share, share, split_count
from .values import CORRECT, CORRUPT, MISSING, STALE, VerifyResult, check_value, make_value

__all__ = [
    "LoadGenerator", "Op", "OpGenerator", "PhaseWorkload", "WorkerWorkload",
    "OpenLoopSchedule", "make_load_schedule", "worker_schedule", "PhaseSchedule", "phase_schedule",
    "load_share", "share", "split_count",
    "CORRECT", "CORRUPT", "MISSING", "STALE", "VerifyResult", "check_value", "make_value",
]
