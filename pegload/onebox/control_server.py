"""The onebox's control channel, child side: JSON lines over a loopback TCP port.

Request ``{"op": NAME, "args": {...}}``, answer ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": MESSAGE}``. Kept off the Pegasus ports on purpose: no Pegasus client can
stumble into it, and it needs no codec. :mod:`pegload.onebox.control_client` is the other side.
"""
from __future__ import annotations

import json
import logging

from gevent.server import StreamServer

from .cluster import ClusterError
from .faults import FaultError

log = logging.getLogger("pegload.onebox")
MAX_LINE = 1 << 20


class ControlServer:
    def __init__(self, runtime, listener) -> None:
        self.runtime = runtime
        self.server = StreamServer(listener, self._serve)

    @property
    def port(self) -> int:
        return self.server.socket.getsockname()[1]

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.close()
        self.server.stop(timeout=1)

    def _serve(self, sock, peer) -> None:
        f = sock.makefile("rwb")
        try:
            while True:
                line = f.readline(MAX_LINE)
                if not line:
                    return
                reply = self._dispatch(line)
                f.write(json.dumps(reply).encode() + b"\n")
                f.flush()
                if reply.get("result") == "stopping":
                    self.runtime.request_stop()
        except OSError:
            pass
        finally:
            f.close()
            sock.close()

    def _dispatch(self, line: bytes) -> dict:
        try:
            msg = json.loads(line)
            op = msg["op"]
            args = msg.get("args") or {}
            if not isinstance(args, dict):
                raise ValueError("args must be an object")
        except (ValueError, KeyError, TypeError) as e:
            return {"ok": False, "error": f"bad control request {line[:200]!r}: {e}"}
        handler = getattr(self.runtime, "op_" + str(op), None)
        if handler is None:
            return {"ok": False, "error": f"unknown control op {op!r}"}
        try:
            return {"ok": True, "result": handler(**args)}
        except (ClusterError, FaultError, TypeError, ValueError) as e:
            return {"ok": False, "error": f"{op}: {e}"}
        except Exception as e:  # keep the onebox up whatever a control request does
            log.exception("control op %s failed", op)
            return {"ok": False, "error": f"{op}: internal error: {e!r}"}
