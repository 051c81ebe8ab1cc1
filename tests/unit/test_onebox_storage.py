"""Partition stores: Pegasus key order, value schema with the expiry, decrees, data dir manifest."""
import json
import struct

import pytest

from pegload.client.wire import encode_key
from pegload.onebox import value_schema
from pegload.onebox.storage import PartitionStore, StorageError, StorageLayout


def test_iteration_is_encoded_key_byte_order(tmp_path):
    store = PartitionStore(str(tmp_path / "p"))
    keys = [encode_key(h, s) for h, s in [(b"ab", b""), (b"z", b"b"), (b"z", b""), (b"z", b"a\xff"),
                                         (b"z", b"a"), (b"", b"q"), (b"ab", b"\x00")]]
    store.apply([(k, b"v", 0) for k in keys])
    it = store.iterator()
    it.seek_to_first()
    seen = []
    while it.valid():
        seen.append(it.key())
        it.next()
    # hash-key length first: "" < "z" < "ab"; inside a hash key, sort keys bytewise
    assert seen == [encode_key(b"", b"q"), encode_key(b"z", b""), encode_key(b"z", b"a"),
                    encode_key(b"z", b"a\xff"), encode_key(b"z", b"b"), encode_key(b"ab", b""),
                    encode_key(b"ab", b"\x00")]
    store.close()


def test_value_schema_v1_layout(tmp_path):
    store = PartitionStore(str(tmp_path / "p"))
    store.apply([(b"\x00\x01kx", b"user", 12345)])
    raw = store.get_raw(b"\x00\x01kx")
    expire_ts, tag = struct.unpack_from(">IQ", raw)
    assert expire_ts == 12345 and raw[12:] == b"user"
    assert tag & 0xFF == value_schema.CLUSTER_ID << 1  # delete flag 0
    assert value_schema.expire_ts(raw) == 12345 and value_schema.user_value(raw) == b"user"
    store.close()


def test_negative_expire_ts_wraps_to_u32(tmp_path):
    store = PartitionStore(str(tmp_path / "p"))
    store.apply([(b"\x00\x00k", b"v", -1)])
    assert value_schema.expire_ts(store.get_raw(b"\x00\x00k")) == 0xFFFFFFFF
    store.close()


def test_expiry_boundary(tmp_path):
    store = PartitionStore(str(tmp_path / "p"))
    store.apply([(b"\x00\x00a", b"A", 100), (b"\x00\x00b", b"B", 0), (b"\x00\x00c", b"", 101)])
    assert store.read_live(b"\x00\x00a", 99) == b"A"
    assert store.read_live(b"\x00\x00a", 100) is None  # expire_ts == now is already expired
    assert store.read_live(b"\x00\x00b", 10**9) == b"B"  # 0 never expires
    assert store.read_live(b"\x00\x00c", 100) == b""  # empty value is distinct from absent
    assert store.read_live_with_ts(b"\x00\x00c", 100) == (b"", 101)
    assert store.read_live(b"\x00\x00zz", 1) is None
    store.close()


def test_decrees_increase_and_survive_reopen(tmp_path):
    path = str(tmp_path / "p")
    store = PartitionStore(path)
    assert store.apply([(b"\x00\x00a", b"1", 0)]) == 1
    assert store.consume_decree() == 2
    assert store.apply([(b"\x00\x00a", None, 0), (b"\x00\x00b", b"2", 0)]) == 3
    store.close()
    store = PartitionStore(path)
    assert store.decree == 3
    assert store.get_raw(b"\x00\x00a") is None and store.read_live(b"\x00\x00b", 0) == b"2"
    assert store.apply([]) == 4
    store.close()


def test_apply_keeps_order_last_write_wins(tmp_path):
    store = PartitionStore(str(tmp_path / "p"))
    store.apply([(b"\x00\x00k", b"1", 0), (b"\x00\x00k", None, 0), (b"\x00\x00k", b"3", 0)])
    assert store.read_live(b"\x00\x00k", 0) == b"3"
    store.apply([(b"\x00\x00k", b"4", 0), (b"\x00\x00k", None, 0)])
    assert store.get_raw(b"\x00\x00k") is None
    store.close()


def test_layout_assigns_app_ids_in_creation_order_and_persists(tmp_path):
    d = str(tmp_path / "data")
    layout = StorageLayout(d)
    tables = layout.register_tables({"temp": 8, "t32": 32})
    assert tables == {"temp": {"app_id": 1, "partition_count": 8}, "t32": {"app_id": 2, "partition_count": 32}}
    assert layout.partition_path(1, 3).endswith("1.3.pegasus")
    again = StorageLayout(d).register_tables({"other": 4})
    assert again["other"]["app_id"] == 3 and again["temp"]["app_id"] == 1
    with open(tmp_path / "data" / "onebox.json") as f:
        assert set(json.load(f)["tables"]) == {"temp", "t32", "other"}
    layout.cleanup()  # not temporary: kept
    assert (tmp_path / "data" / "onebox.json").exists()


def test_layout_refuses_partition_count_change(tmp_path):
    d = str(tmp_path / "data")
    StorageLayout(d).register_tables({"temp": 8})
    with pytest.raises(StorageError, match=r"'temp'.*8 partitions; asked for 16"):
        StorageLayout(d).register_tables({"temp": 16})


def test_layout_refuses_broken_manifest(tmp_path):
    (tmp_path / "onebox.json").write_text("{not json")
    with pytest.raises(StorageError, match="not a valid onebox manifest"):
        StorageLayout(str(tmp_path))


def test_temporary_layout_is_removed(tmp_path):
    layout = StorageLayout(None)
    assert layout.temporary
    layout.register_tables({"temp": 2})
    import os
    assert os.path.isdir(layout.data_dir)
    layout.cleanup()
    assert not os.path.exists(layout.data_dir)
