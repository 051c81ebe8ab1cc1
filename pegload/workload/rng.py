"""Seeds: every random stream is derived from the scenario seed and a tuple naming its owner
(phase, worker, greenlet, purpose), so runs replay and streams never overlap by accident."""
from __future__ import annotations

import hashlib
import random


def derive_seed(seed: int, *parts) -> int:
    """A 64-bit seed for the stream named by ``parts`` (ints/strings), stable across runs,
    processes and Python versions (no use of the salted built-in ``hash``)."""
    text = repr((int(seed),) + tuple(parts)).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def make_rng(seed: int, *parts) -> random.Random:
    """A private Mersenne Twister for the stream named by ``parts``."""
    return random.Random(derive_seed(seed, *parts))
