"""pegload's native gevent Pegasus client.

``from pegload.client import Pegasus, MultiGetOptions, ScanOptions, filter_type, error_types``

The names are loaded on first use, so importing ``pegload.client.wire`` (the pure codec, which
the onebox uses) does not pull in gevent or the client machinery.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Pegasus": "pegasus", "PegasusScanner": "pegasus", "MultiGetOptions": "pegasus",
    "ScanOptions": "pegasus", "filter_type": "pegasus", "cas_check_type": "pegasus",
    "DEFAULT_TIMEOUT": "pegasus",
    "error_types": "errors", "PegasusError": "errors", "ConnectionLost": "errors",
    "RequestTimeout": "errors", "ProtocolError": "errors", "ClientClosed": "errors",
    "MetaError": "errors", "TableNotFound": "errors", "ServerError": "errors",
    "StaleRoute": "errors", "Busy": "errors", "StorageError": "errors",
    "Table": "table", "MultiGetResult": "table", "CheckAndSetResult": "table",
    "Scanner": "scanner", "ScanSpec": "scanner",
    "configure_logging": "logconf", "RetryCounters": "counters",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pegload.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
