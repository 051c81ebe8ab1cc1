"""Server caps and defaults that shape answers (server-semantics doc section 6).

Values are the real server's defaults; they live here so the RPC handlers and the tests agree.
"""
from __future__ import annotations

import time

# multi_get: count cap and examined-record cap (rocksdb_multi_get_max_iteration_count)
MULTI_GET_MAX_ITERATION_COUNT = 3000
# multi_get range mode: byte cap (rocksdb_multi_get_max_iteration_size, 30 MiB)
MULTI_GET_MAX_ITERATION_SIZE = 30 * 1024 * 1024
# scans: batch cap and examined-record cap of one get_scanner call (rocksdb_max_iteration_count)
SCAN_MAX_ITERATION_COUNT = 1000
# range reads give up after this long (rocksdb_iteration_threshold_time_ms)
ITERATION_TIME_LIMIT_S = 30.0
# the clock is only looked at every this many examined records, as the real server does
TIME_CHECK_PERIOD = 300
# write requests whose Thrift body is larger get frame ERR_INVALID_DATA (max_allowed_write_size)
MAX_ALLOWED_WRITE_SIZE = 1048576
# an unused scan context is dropped this long after it was issued (hard-coded upstream)
SCAN_CONTEXT_TIMEOUT_S = 300.0
# the table property clients see in the meta reply
MAX_REPLICA_COUNT = 3
# the hash key length the server refuses to encode (the real one aborts instead)
MAX_HASH_KEY_LEN = 65535

INT32_MAX = 2**31 - 1


class Deadline:
    """The 30 s iteration time cap, consulted every TIME_CHECK_PERIOD examined records."""

    __slots__ = ("_until", "_clock")

    def __init__(self, seconds: float = ITERATION_TIME_LIMIT_S, clock=time.monotonic) -> None:
        self._clock = clock
        self._until = clock() + seconds if seconds > 0 else None

    def passed(self, examined: int) -> bool:
        if self._until is None or examined % TIME_CHECK_PERIOD:
            return False
        return self._clock() >= self._until
