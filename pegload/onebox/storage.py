"""RocksDB storage, one store per partition, keyed by the Pegasus encoded key.

RocksDB's default comparator orders keys by unsigned bytes, which *is* Pegasus order for encoded
keys (``[u16 len][hash key][sort key]``), so range reads are plain iterator walks. Values use the
real server's schema (see value_schema). The last write decree lives in a side column family,
written in the same batch as the data it numbers, so it survives restarts with ``--data-dir``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

from rocksdict import Options, Rdict, WriteBatch

from . import value_schema

META_CF = "pegload_meta"
_DECREE_KEY = b"last_decree"
MANIFEST = "onebox.json"
MANIFEST_FORMAT = 1


class StorageError(RuntimeError):
    """A data directory that cannot be used as asked (names the directory and the conflict)."""


def _options() -> Options:
    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.create_missing_column_families(True)
    opts.set_keep_log_file_num(2)
    opts.set_max_background_jobs(2)
    # small memtables: a onebox holds many partitions and little data
    opts.set_write_buffer_size(8 << 20)
    return opts


class PartitionStore:
    """The RocksDB of one partition. Single-threaded use (one gevent hub)."""

    def __init__(self, path: str) -> None:
        self.path = path
        os.makedirs(path, exist_ok=True)
        try:
            self.db = Rdict(path, _options(), column_families={META_CF: Options(raw_mode=True)})
        except Exception as e:  # rocksdict raises plain Exception for open failures
            raise StorageError(f"cannot open partition store {path}: {e}") from None
        self._meta_handle = self.db.get_column_family_handle(META_CF)
        raw = self.db.get_column_family(META_CF).get(_DECREE_KEY)
        self.decree = int(raw) if raw else 0

    # ------------------------------------------------------------------ reads
    def get_raw(self, key: bytes) -> bytes | None:
        return self.db.get(key)

    def read_live(self, key: bytes, now: int) -> bytes | None:
        """User value of a live record, None when absent or expired."""
        raw = self.db.get(key)
        if raw is None:
            return None
        ts = value_schema.expire_ts(raw)
        if 0 < ts <= now:
            return None
        return raw[value_schema.HEADER_LEN:]

    def read_live_with_ts(self, key: bytes, now: int) -> tuple[bytes, int] | None:
        raw = self.db.get(key)
        if raw is None:
            return None
        ts = value_schema.expire_ts(raw)
        if 0 < ts <= now:
            return None
        return raw[value_schema.HEADER_LEN:], ts

    def iterator(self):
        """A RocksDB iterator: a consistent snapshot of the partition as of now."""
        return self.db.iter()

    # ------------------------------------------------------------------ writes
    def apply(self, ops) -> int:
        """Apply ``[(key, user_value or None for delete, expire_ts), ...]`` atomically, in order
        (a later op on the same key wins), and return the decree that numbers this write."""
        self.decree += 1
        wb = WriteBatch(raw_mode=True)
        for key, value, ts in ops:
            if value is None:
                wb.delete(key)
            else:
                wb.put(key, value_schema.pack(value, ts))
        wb.put(_DECREE_KEY, str(self.decree).encode(), self._meta_handle)
        self.db.write(wb)
        return self.decree

    def consume_decree(self) -> int:
        """A rejected write still takes a decree on the real server (non-idempotent tables)."""
        return self.apply(())

    def close(self) -> None:
        # the column family handle keeps the DB (and its LOCK file) alive: drop it first
        self._meta_handle = None
        self.db.close()


class StorageLayout:
    """Where the partition stores live, and which tables (name, app_id, partition count) a data
    directory holds. ``data_dir=None`` means a temporary directory removed by :meth:`cleanup`."""

    def __init__(self, data_dir: str | None) -> None:
        self.temporary = data_dir is None
        self.data_dir = tempfile.mkdtemp(prefix="pegload-onebox-") if data_dir is None else data_dir
        os.makedirs(self.data_dir, exist_ok=True)
        self._manifest_path = os.path.join(self.data_dir, MANIFEST)
        self.tables: dict[str, dict] = self._load_manifest()

    def _load_manifest(self) -> dict[str, dict]:
        if not os.path.exists(self._manifest_path):
            if any(n.endswith(".pegasus") for n in os.listdir(self.data_dir)):
                raise StorageError(f"{self.data_dir} holds partition stores but no {MANIFEST}")
            return {}
        try:
            with open(self._manifest_path, encoding="utf-8") as f:
                doc = json.load(f)
            if doc.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"format {doc.get('format')!r}, expected {MANIFEST_FORMAT}")
            return {str(k): {"app_id": int(v["app_id"]), "partition_count": int(v["partition_count"])}
                    for k, v in doc["tables"].items()}
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StorageError(f"{self._manifest_path} is not a valid onebox manifest: {e}") from None

    def register_tables(self, wanted: dict[str, int]) -> dict[str, dict]:
        """Add ``wanted`` tables (name -> partition count) to those already in the directory.

        App ids are handed out in creation order from 1, as a fresh meta server does. A table
        that exists with another partition count is an error (its data would be misrouted).
        Returns every table of the directory: name -> {"app_id", "partition_count"}.
        """
        for name, count in wanted.items():
            have = self.tables.get(name)
            if have is None:
                app_id = max((t["app_id"] for t in self.tables.values()), default=0) + 1
                self.tables[name] = {"app_id": app_id, "partition_count": count}
            elif have["partition_count"] != count:
                raise StorageError(
                    f"table {name!r} in {self.data_dir} has {have['partition_count']} partitions; "
                    f"asked for {count} (use another --data-dir or the same count)")
        tmp = self._manifest_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": MANIFEST_FORMAT, "tables": self.tables}, f, indent=1, sort_keys=True)
        os.replace(tmp, self._manifest_path)
        return dict(self.tables)

    def partition_path(self, app_id: int, index: int) -> str:
        # the real replica server's directory name for a replica: "<app_id>.<index>.pegasus"
        return os.path.join(self.data_dir, f"{app_id}.{index}.pegasus")

    def cleanup(self) -> None:
        if self.temporary:
            shutil.rmtree(self.data_dir, ignore_errors=True)
