"""The errno table and the error classes' retry policy (no sockets)."""
from __future__ import annotations

import pytest

from pegload.client import error_types
from pegload.client.errors import (
    Busy,
    ConnectionLost,
    PegasusError,
    RequestTimeout,
    ServerError,
    StaleRoute,
    StorageError,
    errno_of,
    server_error,
)


def test_codes_keep_the_official_client_numbering():
    ttypes = pytest.importorskip("pypegasus.base.ttypes")
    for member in ttypes.error_types:
        assert error_types[member.name].value == member.value, member.name
    assert error_types.ERR_OK.value == 0
    assert error_types.ERR_TIMEOUT.value == 18
    assert error_types.ERR_OBJECT_NOT_FOUND.value == 23
    assert error_types.ERR_INCOMPLETE_DATA.value == 38


def test_newer_names_are_known_and_unknown_names_do_not_raise():
    for name in ("ERR_SPLITTING", "ERR_PARENT_PARTITION_MISUSED", "ERR_ACL_DENY",
                 "ERR_DISK_INSUFFICIENT", "ERR_OPERATION_DISABLED"):
        assert errno_of(name) == error_types[name].value > error_types.ERR_META_RESET.value
    assert errno_of("ERR_FROM_THE_FUTURE") == error_types.ERR_UNKNOWN.value
    e = server_error("ERR_FROM_THE_FUTURE", address="127.0.0.1:1")
    assert type(e) is ServerError and e.name == "ERR_FROM_THE_FUTURE"
    assert not e.retriable and e.errno == error_types.ERR_UNKNOWN.value


@pytest.mark.parametrize("name, cls, retriable, refresh", [
    ("ERR_OBJECT_NOT_FOUND", StaleRoute, True, True),
    ("ERR_INVALID_STATE", StaleRoute, True, True),
    ("ERR_PARENT_PARTITION_MISUSED", StaleRoute, True, True),
    ("ERR_BUSY", Busy, True, False),
    ("ERR_NOT_ENOUGH_MEMBER", Busy, True, False),
    ("ERR_SPLITTING", ServerError, False, False),
    ("ERR_INVALID_DATA", ServerError, False, False),
])
def test_server_errors_carry_their_policy(name, cls, retriable, refresh):
    e = server_error(name, address="127.0.0.1:34801", gpid=(1, 3), rpc="RPC_RRDB_RRDB_GET")
    assert type(e) is cls
    assert (e.retriable, e.refresh_meta) == (retriable, refresh)
    assert e.errno == error_types[name].value
    assert str(e) == f"{name} from 127.0.0.1:34801 partition 1.3 for RPC_RRDB_RRDB_GET"
    assert (e.address, e.gpid) == ("127.0.0.1:34801", (1, 3))


def test_client_side_errors():
    lost = ConnectionLost("gone", address="a:1", sent=False)
    assert lost.retriable and lost.refresh_meta and not lost.sent
    assert lost.errno == error_types.ERR_SESSION_RESET.value
    t = RequestTimeout("slow")
    assert not t.retriable and t.errno == error_types.ERR_TIMEOUT.value
    s = StorageError("bad", 4)
    assert s.errno == 4 and s.status == 4  # raw RocksDB status, as the official client returns
    assert all(issubclass(c, PegasusError) for c in (ConnectionLost, RequestTimeout, StorageError))
