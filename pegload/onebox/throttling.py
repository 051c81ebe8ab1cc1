"""Table-env throttling rules, as a real replica applies them (pure; clocks injected).

Read from apache/incubator-pegasus (see docs/onebox.md, "Table environments"):
``src/utils/throttling_controller.cpp`` (QPS and write-size rules: a per-second window),
``src/utils/token_bucket_throttling_controller.cpp`` (read-by-size: a token bucket),
``src/replica/replica_throttle.cpp`` (where each is consulted), ``src/meta/app_env_validator.cpp``
(what the meta accepts). Written from those rules; no code carried over.
"""
from __future__ import annotations

import time

PASS, DELAY, REJECT = "pass", "delay", "reject"
U64_MAX = 2**64 - 1

_LEADING = " \t"
_TRAILING = " \t\r\n"
_SPACE = frozenset(" \t\n\v\f\r")


class ThrottleParseError(ValueError):
    """A throttling value the server would refuse (message = the server's hint, in our words)."""


def split_args(text: str, sep: str, keep_empty: bool) -> list[str]:
    """The server's ``utils::split_args``: split on one character, strip leading spaces/tabs and
    trailing spaces/tabs/CR/LF of each token; empty tokens kept only with ``keep_empty``."""
    out = []
    for tok in text.split(sep):
        tok = tok.lstrip(_LEADING).rstrip(_TRAILING)
        if tok or keep_empty:
            out.append(tok)
    return out


def parse_uint64(text: str) -> int | None:
    """The server's ``buf2uint64``: C ``strtoull`` base 0 over the whole string (leading
    whitespace, an optional sign, ``0x`` hex or leading-``0`` octal); a minus sign is refused
    unless the value is 0; must fit in 64 bits."""
    i, n = 0, len(text)
    if not n:
        return None
    while i < n and text[i] in _SPACE:
        i += 1
    neg = i < n and text[i] == "-"
    if i < n and text[i] in "+-":
        i += 1
    rest = text[i:]
    try:
        if rest[:2] in ("0x", "0X") and len(rest) > 2:
            value = int(rest[2:], 16) if all(c in "0123456789abcdefABCDEF" for c in rest[2:]) else None
        elif rest.startswith("0"):
            value = int(rest, 8) if all(c in "01234567" for c in rest) else None
        else:
            value = int(rest) if rest and all(c in "0123456789" for c in rest) else None
    except ValueError:
        value = None
    if value is None or value > U64_MAX:
        return None
    if neg and value != 0:
        return None
    return value


def parse_units(text: str) -> int:
    """``UNITS`` with an optional trailing ``K`` (x1024) or ``M`` (x1048576); uppercase only."""
    mult = 1
    if text.endswith("M"):
        mult, text = 1 << 20, text[:-1]
    elif text.endswith("K"):
        mult, text = 1 << 10, text[:-1]
    v = parse_uint64(text)
    if v is None:
        raise ThrottleParseError(f"{text!r} should be an unsigned integer")
    if v * mult > U64_MAX:
        raise ThrottleParseError(f"{text!r} overflows")
    return v * mult


class Rules:
    """A parsed ``N*delay*MS,M*reject*MS`` value (0 units = that rule is off)."""

    __slots__ = ("delay_units", "delay_ms", "reject_units", "reject_ms")

    def __init__(self, delay_units=0, delay_ms=0, reject_units=0, reject_ms=0) -> None:
        self.delay_units, self.delay_ms = delay_units, delay_ms
        self.reject_units, self.reject_ms = reject_units, reject_ms

    def __eq__(self, other) -> bool:
        return isinstance(other, Rules) and all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __repr__(self) -> str:
        return "Rules(" + ", ".join(f"{a}={getattr(self, a)}" for a in self.__slots__) + ")"


def _parse_one(arg: str, kind: str):
    """One ``UNITS*TYPE*MS`` item against ``kind``: ``(units, ms)``, or None when TYPE is
    another kind (the server's "ignore" result), raising on anything malformed."""
    parts = split_args(arg, "*", keep_empty=True)
    if len(parts) != 3:
        raise ThrottleParseError(f"the field count of {arg!r} separated by '*' must be 3")
    units = parse_units(parts[0])
    if parts[1] != kind:
        return None
    ms = parse_uint64(parts[2])
    if ms is None:
        raise ThrottleParseError(f"{parts[2]!r} should be an unsigned integer")
    return units, ms


def parse_rules(value: str) -> Rules:
    """Parse a ``replica.*_throttling`` value exactly as the server does: comma-separated items,
    at most one ``delay`` and one ``reject``; raises ThrottleParseError otherwise."""
    items = split_args(value, ",", keep_empty=False)
    if not items:
        raise ThrottleParseError("the value must not be empty")
    rules = Rules()
    seen = set()
    for item in items:
        got = _parse_one(item, "delay")
        kind = "delay"
        if got is None:
            got = _parse_one(item, "reject")
            kind = "reject"
            if got is None:
                parts = split_args(item, "*", keep_empty=True)
                raise ThrottleParseError(f"{parts[1]!r} should be 'delay' or 'reject'")
        if kind in seen:
            raise ThrottleParseError(f"duplicate {kind!r} rule")
        seen.add(kind)
        if kind == "delay":
            rules.delay_units, rules.delay_ms = got
        else:
            rules.reject_units, rules.reject_ms = got
    return rules


def _capped_ms(ms: int, client_timeout_ms: int) -> int:
    return min(ms, client_timeout_ms // 2) if client_timeout_ms > 0 else ms


class WindowController:
    """QPS or write-size throttling of one replica (``throttling_controller``).

    Limits per partition are ``units // partition_count + 1`` (0 stays 0 = off). The counter
    covers one wall-clock second (``clock()`` in seconds, whole seconds compare); each request
    adds its units first; over the reject limit the units are taken back and the request is
    rejected; otherwise over the delay limit it is delayed and stays counted. The wait is
    ``min(ms, client_timeout // 2)`` when the request carries a timeout, else ``ms``.
    """

    __slots__ = ("enabled", "value", "partition_count", "delay_units", "delay_ms", "reject_units",
                 "reject_ms", "window", "units", "clock")

    def __init__(self, clock=time.time) -> None:
        self.clock = clock
        self.enabled = False
        self.value = ""
        self.partition_count = 0
        self.delay_units = self.delay_ms = self.reject_units = self.reject_ms = 0
        self.window = 0
        self.units = 0

    def configure(self, value: str, partition_count: int) -> bool:
        """Apply a new env value; returns True when the rules changed. Raises
        ThrottleParseError (the caller resets and logs, as the replica does). The running
        window count is kept across a change, as upstream."""
        if self.enabled and value == self.value and partition_count == self.partition_count:
            return False
        r = parse_rules(value)
        self.enabled = True
        self.value = value
        self.partition_count = partition_count
        self.delay_units = r.delay_units // partition_count + 1 if r.delay_units else 0
        self.delay_ms = r.delay_ms
        self.reject_units = r.reject_units // partition_count + 1 if r.reject_units else 0
        self.reject_ms = r.reject_ms
        return True

    def reset(self) -> bool:
        if not self.enabled:
            return False
        self.enabled = False
        self.value = ""
        self.partition_count = 0
        self.delay_units = self.delay_ms = self.reject_units = self.reject_ms = 0
        self.window = 0
        self.units = 0
        return True

    def control(self, client_timeout_ms: int, units: int) -> tuple[str, int]:
        """``(PASS | DELAY | REJECT, wait ms)`` for one request of ``units``."""
        if not self.enabled:
            return PASS, 0
        now_s = int(self.clock())
        if now_s != self.window:
            self.units = 0
            self.window = now_s
        self.units += units
        if self.reject_units and self.units > self.reject_units:
            self.units -= units
            return REJECT, _capped_ms(self.reject_ms, client_timeout_ms)
        if self.delay_units and self.units > self.delay_units:
            return DELAY, _capped_ms(self.delay_ms, client_timeout_ms)
        return PASS, 0


def parse_size_bucket_rate(value: str) -> tuple[int, bool]:
    """``replica.read_throttling_by_size``: ``(bytes per second for the table, enabled)``.
    Accepted, in the server's order: ``N`` (> 0), ``N[K|M]`` (> 0), ``N*delay*MS`` alone (parsed
    but the bucket stays off: delay is not supported), or a rule list whose ``reject`` units
    (> 0) are the rate (its MS is ignored)."""
    v = parse_uint64(value)
    if v:
        return v, True
    try:
        v = parse_units(value)
        if v > 0:
            return v, True
    except ThrottleParseError:
        pass
    try:
        if _parse_one(value, "delay") is not None:
            return 1, False
    except ThrottleParseError:
        pass
    r = parse_rules(value)
    if not r.reject_units:
        raise ThrottleParseError("the reject units must be greater than 0")
    return r.reject_units, True


class TokenBucketController:
    """``replica.read_throttling_by_size`` of one replica: a token bucket (folly's
    DynamicTokenBucket with borrowing) of ``rate = units // partition_count`` bytes per second,
    burst = rate. A read is refused (ERR_BUSY at once) while no token is left; after a read its
    result bytes are taken, borrowing below zero; a charge above the burst takes nothing."""

    __slots__ = ("enabled", "value", "partition_count", "rate", "zero_time", "clock")

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.enabled = False
        self.value = ""
        self.partition_count = 0
        self.rate = 0
        self.zero_time = 0.0  # tokens(now) = min((now - zero_time) * rate, burst)

    def configure(self, value: str, partition_count: int) -> bool:
        if self.enabled and value == self.value and partition_count == self.partition_count:
            return False
        units, enabled = parse_size_bucket_rate(value)
        self.enabled = enabled
        self.value = value
        self.partition_count = partition_count
        self.rate = units // max(partition_count, 1)
        return True

    def reset(self) -> bool:
        changed = self.enabled
        self.enabled = False
        self.value = ""
        self.partition_count = 0
        self.rate = 0
        return changed

    def _tokens(self, now: float) -> float:
        return min((now - self.zero_time) * self.rate, float(self.rate))

    def available(self) -> bool:
        if not self.enabled:
            return True
        return self._tokens(self.clock()) > 0

    def consume(self, nbytes: int) -> None:
        if not self.enabled or self.rate <= 0 or nbytes > self.rate:
            return
        now = self.clock()
        left = self._tokens(now) - nbytes
        self.zero_time = now - left / self.rate


# env keys and what each throttles ("kind" decides where it is consulted)
READ_QPS = "replica.read_throttling"
READ_SIZE = "replica.read_throttling_by_size"
WRITE_QPS = "replica.write_throttling"
WRITE_SIZE = "replica.write_throttling_by_size"
BACKUP_QPS = "replica.backup_request_throttling"
THROTTLING_KEYS = (WRITE_QPS, WRITE_SIZE, READ_QPS, READ_SIZE, BACKUP_QPS)


def validate_env(key: str, value: str) -> None:
    """What the meta accepts for ``key`` (``app_env_validator``); raises ThrottleParseError with
    the reason. Keys the onebox does not emulate are refused by name."""
    if key not in THROTTLING_KEYS:
        raise ThrottleParseError(f"app env {key!r} is not emulated by the onebox "
                                 f"(supported: {', '.join(THROTTLING_KEYS)})")
    if key == READ_SIZE:
        parse_size_bucket_rate(value)
    else:
        parse_rules(value)


__all__ = ["PASS", "DELAY", "REJECT", "Rules", "ThrottleParseError", "WindowController",
           "TokenBucketController", "parse_rules", "parse_units", "parse_uint64",
           "parse_size_bucket_rate", "validate_env", "THROTTLING_KEYS", "READ_QPS", "READ_SIZE",
           "WRITE_QPS", "WRITE_SIZE", "BACKUP_QPS"]
