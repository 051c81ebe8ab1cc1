"""The two error layers of the protocol (doc section 4).

Frame-level errors travel as *names* (strings); unknown names must be tolerated. Storage-level
status codes are RocksDB ``Status::Code`` numbers in the ``error`` field of every response.
"""
from __future__ import annotations

import enum


class RocksStatus(enum.IntEnum):
    kOk = 0
    kNotFound = 1
    kCorruption = 2
    kNotSupported = 3
    kInvalidArgument = 4
    kIOError = 5
    kMergeInProgress = 6
    kIncomplete = 7
    kShutdownInProgress = 8
    kTimedOut = 9
    kAborted = 10
    kBusy = 11
    kExpired = 12
    kTryAgain = 13


# The statuses the client tests on its hot paths, as plain ints (the same numbers, taken from the
# enum: comparing with an int global skips the enum-class attribute lookup).
K_OK = int(RocksStatus.kOk)
K_NOT_FOUND = int(RocksStatus.kNotFound)
K_INCOMPLETE = int(RocksStatus.kIncomplete)
K_TRY_AGAIN = int(RocksStatus.kTryAgain)


ERR_OK = "ERR_OK"
ERR_UNKNOWN = "ERR_UNKNOWN"
ERR_TIMEOUT = "ERR_TIMEOUT"
ERR_SERVICE_NOT_ACTIVE = "ERR_SERVICE_NOT_ACTIVE"
ERR_BUSY = "ERR_BUSY"
ERR_FORWARD_TO_OTHERS = "ERR_FORWARD_TO_OTHERS"
ERR_OBJECT_NOT_FOUND = "ERR_OBJECT_NOT_FOUND"
ERR_HANDLER_NOT_FOUND = "ERR_HANDLER_NOT_FOUND"
ERR_INVALID_PARAMETERS = "ERR_INVALID_PARAMETERS"
ERR_CAPACITY_EXCEEDED = "ERR_CAPACITY_EXCEEDED"
ERR_INVALID_STATE = "ERR_INVALID_STATE"
ERR_INACTIVE_STATE = "ERR_INACTIVE_STATE"
ERR_NOT_ENOUGH_MEMBER = "ERR_NOT_ENOUGH_MEMBER"
ERR_INVALID_DATA = "ERR_INVALID_DATA"
ERR_INCOMPLETE_DATA = "ERR_INCOMPLETE_DATA"
ERR_BUSY_CREATING = "ERR_BUSY_CREATING"
ERR_BUSY_DROPPING = "ERR_BUSY_DROPPING"
ERR_UNDER_RECOVERY = "ERR_UNDER_RECOVERY"
ERR_OPERATION_DISABLED = "ERR_OPERATION_DISABLED"
ERR_ACL_DENY = "ERR_ACL_DENY"
ERR_SPLITTING = "ERR_SPLITTING"
ERR_PARENT_PARTITION_MISUSED = "ERR_PARENT_PARTITION_MISUSED"
ERR_DISK_INSUFFICIENT = "ERR_DISK_INSUFFICIENT"
ERR_SESSION_RESET = "ERR_SESSION_RESET"  # client-local only, never on the wire
