"""One data request at a replica server, from arrival to reply bytes: injected faults, admission
(routing.py), table-env throttling (app_envs.py), execution, and the server's own metrics
(server_metrics.py).

Returns what the connection loop sends: reply bytes, None (no reply), ``CLOSE``, or
``(bytes or a deferred handler, seconds)`` for a reply that goes out later, or a request that
runs later (a throttling delay: upstream re-queues the request, then processes it).
"""
from __future__ import annotations

import logging
from time import perf_counter_ns

from pegload.client.wire import RPC_CLEAR_SCANNER, RPCS, encode_response
from pegload.client.wire.errors import (
    ERR_BUSY,
    ERR_HANDLER_NOT_FOUND,
    ERR_OBJECT_NOT_FOUND,
    ERR_OK,
    ERR_UNKNOWN,
)
from pegload.client.wire.frames import MSG_ONEWAY

from . import faults as F
from .app_envs import DELAY, DROP, SIZE_CHECKED, read_charge
from .routing import admit, body_length
from .server_metrics import MASK

log = logging.getLogger("pegload.onebox")
CLOSE = object()  # handler outcome: cut the connection
# frame errors raised before a replica object is found: upstream's response_client never sees them
_STUB_ERRORS = frozenset((ERR_OBJECT_NOT_FOUND, ERR_HANDLER_NOT_FOUND))


def handle(service, req, frame, again: bool = False):
    """``again``: a throttled-with-delay request coming back after its wait; it is admitted
    afresh (upstream re-enters on_client_read/write ignoring throttling), not counted twice,
    not subject to faults or throttling a second time."""
    rt = service.runtime
    name = req.name
    stats = rt.stats
    delay = 0.0
    busy = False
    if not again:
        stats.count_request(service.addr, name)
        faults = rt.faults
        if faults.active:
            h = req.header
            outcome, delay = faults.decide(service.index, (h.app_id, h.partition_index))
            if outcome is not F.SERVE:
                if outcome is F.CLOSE:
                    stats.faults["close"] += 1
                    return CLOSE
                if outcome is F.DROP:
                    stats.faults["drop"] += 1
                    return None
                busy = True
    err, part = admit(rt.cluster, service.index, req, frame)
    if err is None and busy:
        err = ERR_BUSY
        stats.faults["busy"] += 1
    envs = rt.envs
    wait = 0.0
    if envs.active and not again:
        outcome, wait, counter = envs.throttle(service.index, req, body_length(frame), err)
        if outcome is not None:
            h = req.header
            rt.metrics.count(service.index, h.app_id, h.partition_index, counter)
            stats.throttling[counter] = stats.throttling.get(counter, 0) + 1
            if outcome is DROP:
                return None  # a rejected backup request is never answered
            if outcome is DELAY:
                if delay:
                    stats.faults["delayed"] += 1
                return (lambda: handle(service, req, frame, True)), wait + delay
            err = ERR_BUSY  # REJECT: ERR_BUSY after the wait
    if err is None:
        bucket = envs.size_bucket(service.index, req.header) if envs.size_gated else None
        if bucket is not None and name in SIZE_CHECKED and not bucket.available():
            # storage-level read-size throttling: the request is counted, answered ERR_BUSY
            c = "throttling_rejected_read_requests"
            rt.metrics.count(service.index, part.app_id, part.index, c)
            sample = rt.metrics.replicas[service.index].entity(part).by_rpc.get(name)
            if sample is not None:
                sample.count += 1  # counted as a request, no latency sample
            stats.throttling[c] = stats.throttling.get(c, 0) + 1
            err = ERR_BUSY
        else:
            try:
                t0 = perf_counter_ns()
                resp = part.execute(name, req.args, service.addr)
                elapsed = perf_counter_ns() - t0
            except Exception:  # a bug must cost one request, not the server
                log.exception("replica %s: %s (seqid %d) failed", service.addr, name, req.seqid)
                err = ERR_UNKNOWN
            else:
                # the server's own metrics (server_metrics.py), OpSample.add inlined: this runs
                # for every request
                if RPCS[name].is_write:
                    for sample in rt.metrics.write_samples(part, name):
                        sample.count += 1
                        sample.ring[sample.n & MASK] = elapsed
                        sample.n += 1
                else:
                    e = rt.metrics.entities[service.index].get(part)
                    sample = (e or rt.metrics.replicas[service.index].entity(part)).by_rpc.get(name)
                    if sample is not None:
                        sample.count += 1
                        sample.ring[sample.n & MASK] = elapsed
                        sample.n += 1
                    if req.header.is_backup_request:
                        rt.metrics.count(service.index, part.app_id, part.index, "backup_requests")
                if bucket is not None and resp is not None:
                    bucket.consume(read_charge(name, req.args, resp))
                if resp is None or req.msg_type == MSG_ONEWAY:
                    return None  # clear_scanner, a quirk that never answers, or one-way
                reply = encode_response(ERR_OK, name + "_ACK", req.seqid, resp)
                if delay or wait:
                    if delay:
                        stats.faults["delayed"] += 1
                    return reply, delay + wait
                return reply
    if name == RPC_CLEAR_SCANNER:
        return None  # never answered, whatever happened
    stats.count_error(err)
    spec = RPCS.get(name)
    if spec is not None and err not in _STUB_ERRORS:
        rt.metrics.count_reply_error(service.index, spec.is_write, err == ERR_BUSY)
    if req.msg_type == MSG_ONEWAY:
        return None
    reply = encode_response(err, name + "_ACK", req.seqid)
    if delay or wait:
        if delay:
            stats.faults["delayed"] += 1
        return reply, delay + wait
    return reply
