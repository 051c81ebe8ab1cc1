"""Embedded Pegasus-compatible cluster ("onebox"): meta and replica servers on loopback that speak
the real wire protocol, over RocksDB partition stores with Pegasus semantics, plus fault injection.

``Onebox`` (the child-process API) and ``ControlClient`` import neither gevent nor rocksdict; the
server itself lives in :mod:`pegload.onebox.runtime` and runs as ``python -m pegload.onebox``.
"""
from .api import Onebox, OneboxError
from .config import ConfigError, OneboxConfig
from .control_client import ControlClient, ControlError

__all__ = ["Onebox", "OneboxError", "OneboxConfig", "ConfigError", "ControlClient", "ControlError"]
