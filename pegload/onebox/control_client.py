"""The onebox's control channel, caller side (plain blocking sockets, no gevent), used by
:class:`pegload.onebox.Onebox` and usable on its own against ``pegload onebox`` (which prints its
control address)."""
from __future__ import annotations

import json
import socket

from pegload.client.wire import parse_address


class ControlError(RuntimeError):
    """The onebox refused a control request or could not be reached (message says which)."""


class ControlClient:
    def __init__(self, addr: str, timeout: float = 30.0) -> None:
        self.addr = addr
        self._target = parse_address(addr)
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._file = None

    def _connect(self) -> None:
        try:
            self._sock = socket.create_connection(self._target, timeout=self._timeout)
        except OSError as e:
            raise ControlError(f"cannot reach the onebox control channel at {self.addr}: {e}") from None
        self._file = self._sock.makefile("rwb")

    def call(self, op: str, **args):
        """Run control op ``op`` and return its result; raises ControlError on refusal."""
        if self._sock is None:
            self._connect()
        try:
            self._file.write(json.dumps({"op": op, "args": args}).encode() + b"\n")
            self._file.flush()
            line = self._file.readline()
        except OSError as e:
            self.close()
            raise ControlError(f"control channel {self.addr} failed during {op!r}: {e}") from None
        if not line:
            self.close()
            raise ControlError(f"control channel {self.addr} closed during {op!r}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise ControlError(reply.get("error", f"{op} failed"))
        return reply.get("result")

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = None
