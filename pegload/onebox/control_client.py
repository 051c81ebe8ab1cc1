"""The onebox's control channel, caller side (plain blocking sockets, no gevent), used by
:class:`pegload.onebox.Onebox` and usable on its own against ``pegload onebox``, which prints its
control address and the path of its control token file:

    ControlClient("127.0.0.1:40123", token_file="/tmp/pegload-onebox-x/control.token").call("faults")
"""
from __future__ import annotations

import json
import socket

from pegload.client.wire import parse_address

from .control_token import read_token_file


class ControlError(RuntimeError):
    """The onebox refused a control request or could not be reached (message says which)."""


class ControlClient:
    def __init__(self, addr: str, token_file: str | None = None, *, token: str | None = None,
                 timeout: float = 30.0) -> None:
        self.addr = addr
        self._target = parse_address(addr)
        if token is None:
            if not token_file:
                raise ControlError(f"control channel {addr}: a token is required; pass token_file= "
                                   "(pegload onebox prints its path)")
            try:
                token = read_token_file(token_file)
            except (OSError, ValueError) as e:
                raise ControlError(f"cannot read the onebox control token: {e}") from None
        self._token = token
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
            self._file.write(json.dumps({"op": op, "args": args, "token": self._token}).encode() + b"\n")
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
            if str(reply.get("error", "")).startswith("refused:"):
                self.close()  # the onebox closes a refused connection
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
