"""One partition's replica state (its store and scan contexts) and the RPC dispatch table."""
from __future__ import annotations

import time

from pegload.client.wire import (
    PEGASUS_EPOCH,
    RPC_BATCH_GET,
    RPC_CHECK_AND_MUTATE,
    RPC_CHECK_AND_SET,
    RPC_CLEAR_SCANNER,
    RPC_GET,
    RPC_GET_SCANNER,
    RPC_INCR,
    RPC_MULTI_GET,
    RPC_MULTI_PUT,
    RPC_MULTI_REMOVE,
    RPC_PUT,
    RPC_REMOVE,
    RPC_SCAN,
    RPC_SORTKEY_COUNT,
    RPC_TTL,
)

from . import reads, scans, writes
from .scans import ScanContexts
from .storage import PartitionStore

# rpc name -> handler(partition, args, server) returning a response object, or None for "no reply"
HANDLERS = {
    RPC_PUT: writes.put,
    RPC_MULTI_PUT: writes.multi_put,
    RPC_REMOVE: writes.remove,
    RPC_MULTI_REMOVE: writes.multi_remove,
    RPC_INCR: writes.incr,
    RPC_CHECK_AND_SET: writes.check_and_set,
    RPC_CHECK_AND_MUTATE: writes.check_and_mutate,
    RPC_GET: reads.get,
    RPC_MULTI_GET: reads.multi_get,
    RPC_BATCH_GET: reads.batch_get,
    RPC_SORTKEY_COUNT: reads.sortkey_count,
    RPC_TTL: reads.ttl,
    RPC_GET_SCANNER: scans.get_scanner,
    RPC_SCAN: scans.scan,
    RPC_CLEAR_SCANNER: scans.clear_scanner,
}


class Partition:
    """Gpid ``(app_id, index)``: the data and scanner contexts its primary serves from.

    ``clock`` returns Unix seconds (the server's wall clock, which TTLs are judged by);
    ``mono`` drives scan-context expiry. Both are injectable for tests.
    """

    def __init__(self, app_id: int, index: int, store: PartitionStore, clock=time.time,
                 mono=time.monotonic) -> None:
        self.app_id = app_id
        self.index = index
        self.store = store
        self._clock = clock
        self.scanners = ScanContexts(mono)

    def now(self) -> int:
        """Pegasus-epoch seconds by the server clock."""
        return int(self._clock()) - PEGASUS_EPOCH

    def execute(self, rpc_name: str, args, server: str):
        """Run one data RPC; ``server`` is the ``ip:port`` of the serving replica."""
        return HANDLERS[rpc_name](self, args, server)

    def drop_scan_contexts(self) -> None:
        """Contexts are per replica: when the primary moves, the new one does not know them."""
        self.scanners.clear()

    def close(self) -> None:
        self.scanners.clear()  # contexts hold iterators, which must go before the store
        self.store.close()
