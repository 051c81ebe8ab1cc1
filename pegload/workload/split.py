"""Exact division of work among workers: shares of a total always add up to the total.

- ``split_count(total, parts)``: the first ``total % parts`` parts get one more.
- Load phase: worker w writes the hash keys ≡ w (mod workers) (the same hash keys it owns in
  verification mode), each in batches of consecutive sort keys; ``load_share`` gives its
  record and call counts.
- Open-loop phases share slots of one global schedule by index (see ``pacing.py``), so the
  union of the workers' schedules is exactly the global schedule.
"""
from __future__ import annotations

from .keys import owned_hash_key_count


def split_count(total: int, parts: int) -> list[int]:
    """[share of part 0, ...]: as equal as possible, summing to ``total``."""
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def share(total: int, parts: int, index: int) -> int:
    """split_count(total, parts)[index] without building the list."""
    base, extra = divmod(total, parts)
    return base + (1 if index < extra else 0)


def load_share(hash_keys: int, sort_keys: int, batch: int, workers: int, worker: int) -> tuple[int, int]:
    """(records, calls) the load phase gives ``worker``: its hash keys times sort keys, written
    in calls of at most ``batch`` sort keys (never spanning two hash keys)."""
    owned = owned_hash_key_count(hash_keys, workers, worker)
    calls_per_hash_key = -(-sort_keys // max(1, min(batch, sort_keys)))
    return owned * sort_keys, owned * calls_per_hash_key
