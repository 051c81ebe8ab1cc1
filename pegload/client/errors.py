"""The client's error tree and its one errno table.

::

    PegasusError                      root; .name (error name), .errno (facade code)
    ├── ConnectionLost                ERR_SESSION_RESET: connect failed or the socket closed
    ├── RequestTimeout                ERR_TIMEOUT: no reply before the call's deadline
    ├── ProtocolError                 ERR_INVALID_DATA: a reply we cannot parse (connection dropped)
    ├── ClientClosed                  ERR_INVALID_STATE: the client was closed
    ├── MetaError                     the meta servers could not give a usable table config
    │   └── TableNotFound             ERR_OBJECT_NOT_FOUND from the meta server
    ├── ServerError                   a frame-level error name from a replica
    │   ├── StaleRoute                wrong/moved primary: refresh the config, then retry
    │   └── Busy                      throttled or short of replicas: back off, then retry
    └── StorageError                  a RocksDB status in the response body (.status)

Policy lives on the classes as ``retriable``, ``refresh_meta`` and ``retry_cause`` (the name a
retry is counted under, see ``counters.py``) so the one retry loop in ``callpath.py`` reads
attributes instead of listing names. ``errno`` is the number the facade
returns: the position of the name in ``error_types``, which keeps pypegasus3 0.0.1.1's numbering
for every name it knows (so code written against it keeps working) and appends newer names.
"""
from __future__ import annotations

import enum

# pypegasus3 0.0.1.1's local numbering (its error_types enum), then names it lacks. The numbers
# are not on the wire (names are); they only have to stay stable for users of the facade.
_NAMES = (
    "ERR_OK ERR_UNKNOWN ERR_REPLICATION_FAILURE ERR_APP_EXIST ERR_APP_NOT_EXIST ERR_BUSY_CREATING "
    "ERR_BUSY_DROPPING ERR_EXPIRED ERR_LOCK_ALREADY_EXIST ERR_HOLD_BY_OTHERS ERR_RECURSIVE_LOCK "
    "ERR_NO_OWNER ERR_NODE_ALREADY_EXIST ERR_INCONSISTENT_STATE ERR_ARRAY_INDEX_OUT_OF_RANGE "
    "ERR_SERVICE_NOT_FOUND ERR_SERVICE_ALREADY_RUNNING ERR_IO_PENDING ERR_TIMEOUT "
    "ERR_SERVICE_NOT_ACTIVE ERR_BUSY ERR_NETWORK_INIT_FAILED ERR_FORWARD_TO_OTHERS "
    "ERR_OBJECT_NOT_FOUND ERR_HANDLER_NOT_FOUND ERR_LEARN_FILE_FAILED ERR_GET_LEARN_STATE_FAILED "
    "ERR_INVALID_VERSION ERR_INVALID_PARAMETERS ERR_CAPACITY_EXCEEDED ERR_INVALID_STATE "
    "ERR_INACTIVE_STATE ERR_NOT_ENOUGH_MEMBER ERR_FILE_OPERATION_FAILED ERR_HANDLE_EOF "
    "ERR_WRONG_CHECKSUM ERR_INVALID_DATA ERR_INVALID_HANDLE ERR_INCOMPLETE_DATA "
    "ERR_VERSION_OUTDATED ERR_PATH_NOT_FOUND ERR_PATH_ALREADY_EXIST ERR_ADDRESS_ALREADY_USED "
    "ERR_STATE_FREEZED ERR_LOCAL_APP_FAILURE ERR_BIND_IOCP_FAILED ERR_NETWORK_START_FAILED "
    "ERR_NOT_IMPLEMENTED ERR_CHECKPOINT_FAILED ERR_WRONG_TIMING ERR_NO_NEED_OPERATE "
    "ERR_CORRUPTION ERR_TRY_AGAIN ERR_CLUSTER_NOT_FOUND ERR_CLUSTER_ALREADY_EXIST "
    "ERR_ZOOKEEPER_OPERATION ERR_K8S_CLUSTER_NOT_FOUND ERR_K8S_KUBECTL_NOT_FOUND "
    "ERR_K8S_DEPLOY_FAILED ERR_K8S_UNDEPLOY_FAILED ERR_RESOURCE_NOT_ENOUGH ERR_WIN_DEPLOY_FAILED "
    "ERR_WIN_UNDEPLOY_FAILED ERR_DOCKER_DAEMON_NOT_FOUND ERR_DOCKER_BINARY_NOT_FOUND "
    "ERR_DOCKER_DEPLOY_FAILED ERR_DOCKER_UNDEPLOY_FAILED ERR_NO_PRIMARY ERR_NO_REPLICA "
    "ERR_NO_META_SERVER ERR_READ_TABLE_FAILED ERR_SESSION_RESET ERR_META_RESET "
    # names current servers send that pypegasus3 0.0.1.1 does not know (it raises KeyError)
    "ERR_OPERATION_DISABLED ERR_ACL_DENY ERR_SPLITTING ERR_PARENT_PARTITION_MISUSED "
    "ERR_DISK_INSUFFICIENT ERR_UNDER_RECOVERY ERR_UNAUTHENTICATED"
).split()

error_types = enum.IntEnum("error_types", [(n, i) for i, n in enumerate(_NAMES)])
error_types.__doc__ = "Facade result codes by error name (pypegasus3 0.0.1.1 numbering, extended)."

ERRNO: dict[str, int] = {n: i for i, n in enumerate(_NAMES)}
_UNKNOWN_ERRNO = ERRNO["ERR_UNKNOWN"]


def errno_of(name: str) -> int:
    """Facade code of an error name; names we do not know map to ERR_UNKNOWN, never raise."""
    return ERRNO.get(name, _UNKNOWN_ERRNO)


class PegasusError(Exception):
    """Root of every error the client raises on purpose.

    Attributes: ``name`` (the Pegasus error name), ``errno`` (facade code), ``address``
    (``"host:port"`` or None), ``gpid`` (``(app_id, partition_index)`` or None).
    """

    name = "ERR_UNKNOWN"
    retriable = False
    refresh_meta = False
    retry_cause = ""  # set on every class the call path may retry

    def __init__(self, message: str, *, name: str | None = None, address: str | None = None,
                 gpid: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        if name is not None:
            self.name = name
        self.address = address
        self.gpid = gpid

    @property
    def errno(self) -> int:
        return errno_of(self.name)


class ConnectionLost(PegasusError):
    """Could not connect, or the connection closed with this call pending.

    ``sent`` is False when the request certainly never left (the connect failed): only then is
    a non-idempotent operation (incr, check_and_set) retried.
    """

    name = "ERR_SESSION_RESET"
    retriable = True
    refresh_meta = True
    retry_cause = "reset"

    def __init__(self, message: str, *, sent: bool = True, **kw) -> None:
        super().__init__(message, **kw)
        self.sent = sent


class RequestTimeout(PegasusError):
    """No reply before the call's deadline (never retried: the deadline is the call's)."""

    name = "ERR_TIMEOUT"


class ProtocolError(PegasusError):
    """A reply that does not parse; the connection it came from is closed."""

    name = "ERR_INVALID_DATA"


class ClientClosed(PegasusError):
    """The client (or connection) was closed by the application."""

    name = "ERR_INVALID_STATE"


class MetaError(PegasusError):
    """No meta server gave a usable configuration for the table."""

    name = "ERR_NO_META_SERVER"
    retriable = True


class TableNotFound(MetaError):
    """The meta server says the table does not exist."""

    name = "ERR_OBJECT_NOT_FOUND"
    retriable = False


class ServerError(PegasusError):
    """A frame-level error name from a replica server (protocol doc 3.6)."""


class StaleRoute(ServerError):
    """The replica does not serve this partition as primary (any more): refresh, then retry."""

    retriable = True
    refresh_meta = True
    retry_cause = "route"


class Busy(ServerError):
    """Throttled (ERR_BUSY) or temporarily short of replicas: retry after a back-off."""

    retriable = True
    retry_cause = "busy"


class StorageError(PegasusError):
    """A RocksDB status other than the ones the operation expects, from the response body.

    ``status`` is the RocksDB code; ``errno`` is that raw code, as pypegasus3 returns it.
    """

    def __init__(self, message: str, status: int, response=None, **kw) -> None:
        super().__init__(message, name=f"ROCKSDB_STATUS_{status}", **kw)
        self.status = status
        self.response = response  # the decoded response struct, when there was one

    @property
    def errno(self) -> int:
        return self.status


# Frame-level error name -> class (names not listed are plain ServerError: returned, not retried).
_SERVER_ERRORS: dict[str, type[ServerError]] = {
    "ERR_OBJECT_NOT_FOUND": StaleRoute,
    "ERR_INVALID_STATE": StaleRoute,
    "ERR_PARENT_PARTITION_MISUSED": StaleRoute,
    "ERR_INACTIVE_STATE": StaleRoute,
    "ERR_BUSY": Busy,
    "ERR_NOT_ENOUGH_MEMBER": Busy,
    "ERR_CAPACITY_EXCEEDED": Busy,
}


def server_error(name: str, *, address: str | None = None,
                 gpid: tuple[int, int] | None = None, rpc: str = "") -> ServerError:
    """The exception for a frame-level error name received from ``address``."""
    cls = _SERVER_ERRORS.get(name, ServerError)
    where = f" for {rpc}" if rpc else ""
    part = f" partition {gpid[0]}.{gpid[1]}" if gpid else ""
    return cls(f"{name} from {address or 'server'}{part}{where}", name=name, address=address, gpid=gpid)
