"""Where a run sends its load: an embedded onebox started for the run, or a cluster's metas.

The coordinator starts the onebox itself (a child process, ``pegload.onebox.Onebox``) with the
scenario's partition count and fault settings, and stops it when the run ends, whatever happened.
The fingerprint recorded in the report combines what the scenario says with what the workers
learned from the meta servers (app_id, partition count, replica servers).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pegload.onebox import Onebox, OneboxError
from pegload.report.model import TargetFingerprint
from pegload.scenario import Target

# Error names of ops that never reached a server (connection refused, reset, no meta answering).
CONNECTION_FAILURES = frozenset({"ERR_SESSION_RESET", "ERR_NO_META_SERVER", "ERR_NETWORK_FAILURE"})
# An interval in which at least this share of the ops (and UNREACHABLE_MIN_OPS) failed to connect
# means the cluster is gone, not slow.
UNREACHABLE_SHARE = 0.9
UNREACHABLE_MIN_OPS = 10


def unreachable(errors: dict[str, int], count: int) -> str | None:
    """Why an interval's errors say the target stopped answering, or None."""
    failed = sum(n for name, n in errors.items() if name in CONNECTION_FAILURES)
    if count >= UNREACHABLE_MIN_OPS and failed >= UNREACHABLE_SHARE * count:
        names = ", ".join(sorted(name for name in errors if name in CONNECTION_FAILURES))
        return f"{failed:,} of {count:,} ops in an interval could not reach it ({names})"
    return None


class TargetError(RuntimeError):
    """The target cannot be used (onebox failed to start, cluster unreachable, no such table)."""


@dataclass
class OpenTarget:
    """A target ready for workers: where to connect, and the onebox to stop afterwards."""

    target: Target
    meta_addrs: list[str]
    table: str
    onebox: Onebox | None = None
    onebox_log: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        where = "embedded onebox" if self.onebox is not None else "cluster"
        return f"{where} {','.join(self.meta_addrs)} table {self.table!r}"

    def lost(self) -> str | None:
        """Why the embedded onebox is gone (its process exited mid-run), or None."""
        if self.onebox is not None and not self.onebox.running:
            return f"the embedded onebox (pid {self.onebox.pid}) exited mid-run"
        return None

    def close(self) -> None:
        if self.onebox is not None:
            self.onebox.stop()
            self.onebox = None


def open_target(target: Target, log_dir: Path | None = None) -> OpenTarget:
    """Start the onebox a target asks for, or just resolve a cluster target's addresses.

    Raises:
        TargetError: the onebox could not start (the message includes the tail of its log).
    """
    if target.onebox is None:
        return OpenTarget(target, list(target.meta), target.table)
    settings = target.onebox
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="pegload-onebox-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"onebox-{target.name}.log"
    with open(log_path, "wb") as log:
        # its data lives in the run's log folder too, so whatever ends the run (even kill -9 of
        # the onebox, or of the coordinator: see coordinator.run) removes it with that folder
        onebox = Onebox(replica_ports=(0,) * settings.replicas, tables={settings.table: settings.partitions},
                        delay_ms=settings.delay_ms, failure_detection_s=settings.failure_detection_s,
                        stderr=log, data_dir=str(log_dir / f"onebox-data-{target.name}"))
        try:
            onebox.start()
        except (OneboxError, OSError) as exc:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-10:])
            raise TargetError(f"the embedded onebox for target {target.name!r} did not start: {exc}"
                              + (f"\n{tail}" if tail else "")) from None
    return OpenTarget(target, onebox.meta_addrs, settings.table, onebox, log_path,
                      info={"tables": onebox.tables, "replicas": onebox.replica_addrs})


def fingerprint(opened: OpenTarget, learned: dict[str, Any]) -> TargetFingerprint:
    """The report's record of the target; ``learned`` is what worker 0 read from the metas
    (``app_id``, ``partition_count``, ``replica_servers``)."""
    target = opened.target
    extra: dict[str, Any] = {}
    if target.onebox is not None:
        extra["onebox"] = target.onebox.to_dict()
    return TargetFingerprint(
        kind="onebox" if target.onebox is not None else "cluster",
        meta=tuple(opened.meta_addrs),
        table=opened.table,
        app_id=learned.get("app_id"),
        partition_count=learned.get("partition_count"),
        replica_servers=tuple(learned.get("replica_servers", ())),
        labels={str(k): str(v) for k, v in target.labels.items()},
        name=target.name,
        extra=extra,
    )
