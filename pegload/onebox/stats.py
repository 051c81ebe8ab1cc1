"""Server-side counters: requests per RPC, frame errors sent, faults applied, connections.

Read through the control channel (``Onebox.counters()``); benchmarks and harness tests use them
to see what the server really handled.
"""
from __future__ import annotations

from pegload.client.wire import RPCS

UNKNOWN_RPC = "<unknown>"


class Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests: dict[str, int] = {}  # rpc name -> requests received (all servers)
        self.by_server: dict[str, dict[str, int]] = {}  # "ip:port" -> rpc name -> count
        self.errors: dict[str, int] = {}  # frame error name -> replies sent with it
        self.faults = {"busy": 0, "drop": 0, "close": 0, "delayed": 0, "stalled_batches": 0}
        # table-env throttling: "throttling_{delayed,rejected}_{read,write,backup}_requests" -> n
        self.throttling: dict[str, int] = {}
        self.connections = 0
        self.bad_frames = 0

    def count_request(self, server: str, name: str) -> None:
        if name not in RPCS:
            name = UNKNOWN_RPC  # garbage names must not grow the table without bound
        req = self.requests
        req[name] = req.get(name, 0) + 1
        mine = self.by_server.get(server)
        if mine is None:
            mine = self.by_server[server] = {}
        mine[name] = mine.get(name, 0) + 1

    def count_error(self, name: str) -> None:
        self.errors[name] = self.errors.get(name, 0) + 1

    def snapshot(self, reset: bool = False) -> dict:
        snap = {
            "requests": dict(self.requests),
            "by_server": {k: dict(v) for k, v in self.by_server.items()},
            "errors": dict(self.errors),
            "faults": dict(self.faults),
            "throttling": dict(self.throttling),
            "connections": self.connections,
            "bad_frames": self.bad_frames,
        }
        if reset:
            self.reset()
        return snap
