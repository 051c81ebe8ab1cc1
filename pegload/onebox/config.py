"""Onebox settings shared by the CLI, the child process and the Python API, with validation that
names the bad setting. Defaults are those of a real Pegasus onebox."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .conn_limits import (
    DEFAULT_FRAME_TIMEOUT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_MAX_FRAME_BYTES,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_META_PORTS = (34601, 34602, 34603)
DEFAULT_REPLICA_PORTS = (34801, 34802, 34803)
DEFAULT_TABLES = {"temp": 8}
MAX_PARTITIONS = 1024
MIN_FRAME_CAP = 64 * 1024  # below this ordinary requests (a 64 KiB hash key) would be refused
MAX_FRAME_CAP = 1 << 30
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class ConfigError(ValueError):
    """An onebox setting that cannot work (the message names it)."""


def parse_ports(text: str, what: str) -> tuple[int, ...]:
    """``"34601,34602,34603"`` -> ports; used by the CLI."""
    try:
        ports = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise ConfigError(f"{what}: expected comma-separated port numbers, got {text!r}") from None
    if not ports:
        raise ConfigError(f"{what}: needs at least one port")
    return ports


def parse_table(text: str) -> tuple[str, int]:
    """``"NAME:PARTITIONS"`` -> (name, count); used by the CLI."""
    name, sep, count = text.rpartition(":")
    if not sep or not name:
        raise ConfigError(f"--table {text!r}: expected NAME:PARTITIONS, e.g. temp:8")
    try:
        return name, int(count)
    except ValueError:
        raise ConfigError(f"--table {text!r}: partition count {count!r} is not an integer") from None


def parse_app_env(text: str) -> tuple[str, str, str]:
    """``"TABLE:KEY=VALUE"`` -> (table, key, value); used by the CLI."""
    table, sep, rest = text.partition(":")
    key, eq, value = rest.partition("=")
    if not sep or not eq or not table or not key:
        raise ConfigError(f"--app-env {text!r}: expected TABLE:KEY=VALUE, "
                          "e.g. temp:replica.read_throttling=3000*delay*20")
    return table, key.strip(), value


def check_app_env(env, tables) -> None:
    """A start-time table env must name a served table and be a value the meta would accept."""
    from .throttling import ThrottleParseError, validate_env

    if len(env) != 3 or not all(isinstance(x, str) for x in env):
        raise ConfigError(f"app env {env!r}: expected (table, key, value) strings")
    table, key, value = env
    if table not in tables:
        raise ConfigError(f"app env {key}={value!r}: no table {table!r} (have: {', '.join(sorted(tables))})")
    try:
        validate_env(key, value)
    except ThrottleParseError as e:
        raise ConfigError(f"app env {table}:{key}={value!r}: {e}") from None


@dataclass
class OneboxConfig:
    host: str = DEFAULT_HOST
    meta_ports: tuple = DEFAULT_META_PORTS
    replica_ports: tuple = DEFAULT_REPLICA_PORTS
    tables: dict = field(default_factory=lambda: dict(DEFAULT_TABLES))
    data_dir: str | None = None
    send_host_port: bool = False  # partition_configuration fields 9-11; pypegasus3 cannot parse them
    meta_leader: int = 0
    control_port: int = 0  # loopback control channel (JSON lines); 0 = any free port
    delay_ms: float = 0.0
    busy_fraction: float = 0.0
    drop_fraction: float = 0.0
    close_fraction: float = 0.0
    log_level: str = "INFO"
    # per-connection bounds of the meta/replica listeners (conn_limits.py says why these values)
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_buffered_bytes: int = DEFAULT_MAX_BUFFERED_BYTES
    frame_timeout_s: float = DEFAULT_FRAME_TIMEOUT_S
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S
    # table envs set at start: (table, key, value) triples (app_envs.py; `--app-env T:K=V`)
    app_envs: tuple = ()
    # how long the meta takes to declare a killed replica server dead (failover.py)
    failure_detection_s: float = 10.0

    def validate(self) -> None:
        self.meta_ports = tuple(self.meta_ports)
        self.replica_ports = tuple(self.replica_ports)
        if not self.meta_ports:
            raise ConfigError("meta_ports: a onebox needs at least one meta server")
        if not self.replica_ports:
            raise ConfigError("replica_ports: a onebox needs at least one replica server")
        all_ports = list(self.meta_ports) + list(self.replica_ports) + [self.control_port]
        for p in all_ports:
            if not isinstance(p, int) or not 0 <= p <= 65535:
                raise ConfigError(f"port {p!r} is not within 0..65535")
        fixed = [p for p in all_ports if p]
        dup = sorted({p for p in fixed if fixed.count(p) > 1})
        if dup:
            raise ConfigError(f"port(s) {dup} given more than once")
        if not self.tables:
            raise ConfigError("tables: a onebox needs at least one table")
        for name, count in self.tables.items():
            if not isinstance(name, str) or not _TABLE_NAME.match(name):
                raise ConfigError(f"table name {name!r}: use letters, digits, '_', '.', '-'")
            if not isinstance(count, int) or not 1 <= count <= MAX_PARTITIONS:
                raise ConfigError(f"table {name!r}: partition count {count!r} must be within 1..{MAX_PARTITIONS}")
        if not isinstance(self.meta_leader, int) or not 0 <= self.meta_leader < len(self.meta_ports):
            raise ConfigError(f"meta_leader {self.meta_leader!r} must index one of {len(self.meta_ports)} meta servers")
        if not 0 <= self.delay_ms <= 3_600_000:
            raise ConfigError(f"delay_ms {self.delay_ms} must be within 0..3600000")
        fractions = (self.busy_fraction, self.drop_fraction, self.close_fraction)
        for name, v in zip(("busy_fraction", "drop_fraction", "close_fraction"), fractions):
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} {v} must be a fraction within 0..1")
        if sum(fractions) > 1.0 + 1e-9:
            raise ConfigError("busy_fraction + drop_fraction + close_fraction must not exceed 1")
        if not isinstance(self.max_frame_bytes, int) or not MIN_FRAME_CAP <= self.max_frame_bytes <= MAX_FRAME_CAP:
            raise ConfigError(f"max_frame_bytes {self.max_frame_bytes!r} must be an integer within "
                              f"{MIN_FRAME_CAP}..{MAX_FRAME_CAP}")
        if not isinstance(self.max_buffered_bytes, int) or self.max_buffered_bytes < self.max_frame_bytes:
            raise ConfigError(f"max_buffered_bytes {self.max_buffered_bytes!r} must be an integer of at "
                              f"least max_frame_bytes ({self.max_frame_bytes})")
        if not 0 < self.frame_timeout_s <= 3600:
            raise ConfigError(f"frame_timeout_s {self.frame_timeout_s} must be within (0, 3600]")
        if not 0 <= self.idle_timeout_s <= 86400:
            raise ConfigError(f"idle_timeout_s {self.idle_timeout_s} must be within 0..86400 (0 = never)")
        self.app_envs = tuple(tuple(e) for e in self.app_envs)
        for env in self.app_envs:
            check_app_env(env, self.tables)
        if not isinstance(self.failure_detection_s, (int, float)) or not 0 <= self.failure_detection_s <= 3600:
            raise ConfigError(f"failure_detection_s {self.failure_detection_s!r} must be within 0..3600 seconds")

    def to_argv(self) -> list[str]:
        """The ``pegload onebox`` options that reproduce this configuration."""
        argv = ["--host", self.host,
                "--meta-ports", ",".join(map(str, self.meta_ports)),
                "--replica-ports", ",".join(map(str, self.replica_ports)),
                "--meta-leader", str(self.meta_leader),
                "--control-port", str(self.control_port),
                "--log-level", self.log_level]
        for name, count in self.tables.items():
            argv += ["--table", f"{name}:{count}"]
        if self.data_dir is not None:
            argv += ["--data-dir", str(self.data_dir)]
        if self.send_host_port:
            argv.append("--send-host-port")
        for table, key, value in self.app_envs:
            argv += ["--app-env", f"{table}:{key}={value}"]
        argv += ["--failure-detection-s", repr(float(self.failure_detection_s))]
        for opt, v in (("--delay-ms", self.delay_ms), ("--busy-fraction", self.busy_fraction),
                       ("--drop-fraction", self.drop_fraction), ("--close-fraction", self.close_fraction)):
            if v:
                argv += [opt, repr(float(v))]
        argv += ["--max-frame-bytes", str(self.max_frame_bytes),
                 "--max-buffered-bytes", str(self.max_buffered_bytes),
                 "--frame-timeout", repr(float(self.frame_timeout_s)),
                 "--idle-timeout", repr(float(self.idle_timeout_s))]
        return argv
