"""The onebox's control channel, child side: JSON lines over a loopback TCP port.

Request ``{"op": NAME, "args": {...}, "token": TOKEN}``, answer ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": MESSAGE}``. Kept off the Pegasus ports on purpose: no Pegasus client can
stumble into it, and it needs no codec. :mod:`pegload.onebox.control_client` is the other side.

Every request must carry the token of :mod:`pegload.onebox.control_token` (a file only the
owner can read). Anything else closes the connection before anything runs: a line that is not
a JSON object (an HTTP request line, a browser's form post, binary noise), a line over
``MAX_LINE``, a missing or wrong token. A well-formed JSON object with a wrong token gets one
error line first, so a user with a stale token file learns why.
"""
from __future__ import annotations

import hmac
import json
import logging

from gevent.server import StreamServer

from .cluster import ClusterError
from .faults import FaultError

log = logging.getLogger("pegload.onebox")
MAX_LINE = 1 << 20


class Refused(Exception):
    """A control line that must not run: the connection is closed (``reply`` sent first if set)."""

    def __init__(self, why: str, reply: dict | None = None) -> None:
        super().__init__(why)
        self.reply = reply


def parse_request(line: bytes, token: str) -> tuple[str, dict]:
    """``(op, args)`` of one authenticated control line; raises Refused for anything else."""
    if not line.endswith(b"\n"):
        raise Refused(f"line longer than {MAX_LINE} bytes or not terminated")
    try:
        msg = json.loads(line)
    except ValueError:
        raise Refused(f"not a JSON control message: {line[:60]!r}") from None
    if not isinstance(msg, dict):
        raise Refused(f"not a JSON object: {line[:60]!r}")
    given = msg.get("token")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        why = "missing control token" if given is None else "wrong control token"
        raise Refused(why, {"ok": False, "error": f"refused: {why} (read it from the onebox's "
                                                  "control token file)"})
    op = msg.get("op")
    args = msg.get("args") or {}
    if not isinstance(op, str) or not op.isidentifier() or not isinstance(args, dict):
        raise Refused(f"malformed control message (op {op!r}, args {type(args).__name__})",
                      {"ok": False, "error": "refused: malformed control message (needs a "
                                             "string op and an args object)"})
    return op, args


class ControlServer:
    def __init__(self, runtime, listener, token: str) -> None:
        self.runtime = runtime
        self._token = token
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
                try:
                    op, args = parse_request(line, self._token)
                except Refused as e:
                    log.warning("control: closing connection from %s:%s: %s", peer[0], peer[1], e)
                    if e.reply is not None:
                        f.write(json.dumps(e.reply).encode() + b"\n")
                        f.flush()
                    return
                reply = self._dispatch(op, args)
                f.write(json.dumps(reply).encode() + b"\n")
                f.flush()
                if reply.get("result") == "stopping":
                    self.runtime.request_stop()
        except OSError:
            pass
        finally:
            f.close()
            sock.close()

    def _dispatch(self, op: str, args: dict) -> dict:
        handler = getattr(self.runtime, "op_" + op, None)
        if handler is None:
            return {"ok": False, "error": f"unknown control op {op!r}"}
        try:
            return {"ok": True, "result": handler(**args)}
        except (ClusterError, FaultError, TypeError, ValueError) as e:
            return {"ok": False, "error": f"{op}: {e}"}
        except Exception as e:  # keep the onebox up whatever a control request does
            log.exception("control op %s failed", op)
            return {"ok": False, "error": f"{op}: internal error: {e!r}"}
