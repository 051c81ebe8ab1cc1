"""Table configuration snapshots, routing math and the unordered-scanner split (no sockets)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from pegload.client import wire
from pegload.client.errors import MetaError, TableNotFound
from pegload.client.routing import TableConfig, split_partitions
from pegload.client.testing import table_config
from pegload.client.wire import messages as m

V = json.loads((Path(__file__).resolve().parents[1] / "data" / "pegasus-vectors.json").read_text())


def test_config_from_the_official_reply_vectors():
    for name in ("query_cfg_ok_without_host_port_fields", "query_cfg_ok_with_host_port_fields"):
        resp = wire.decode_response(bytes.fromhex(V["response_frames"][name]["frame_hex"])).result
        cfg = TableConfig.from_response("temp", resp, 1)
        assert cfg.app_id == 1 and cfg.partition_count == 2, name
        assert cfg.primaries == ("127.0.0.1:34801", "127.0.0.1:34802"), name
        assert cfg.ballots == (3, 3)
        assert cfg.addresses() == {"127.0.0.1:34801", "127.0.0.1:34802"}


def test_partitions_are_indexed_by_pid_not_list_order():
    resp = table_config(5, ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"])
    resp.partitions.reverse()
    cfg = TableConfig.from_response("t", resp, 7)
    assert cfg.primaries == ("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4")
    assert cfg.version == 7


def test_missing_primary_and_host_port_fallback():
    resp = table_config(1, ["127.0.0.1:1", "127.0.0.1:2"])
    resp.partitions[0].primary = 0
    resp.partitions[1].primary = 0
    resp.partitions[1].hp_primary = m.HostPort("replica-b", 34802)
    cfg = TableConfig.from_response("t", resp, 1)
    assert cfg.primaries == (None, "replica-b:34802")


@pytest.mark.parametrize("mutate, match", [
    (lambda r: setattr(r, "partition_count", 4), "sent 2 partitions"),
    (lambda r: setattr(r.partitions[1], "pid", m.Gpid(1, 0)), "twice or out of range"),
    (lambda r: setattr(r, "err", "ERR_SERVICE_NOT_ACTIVE"), "ERR_SERVICE_NOT_ACTIVE"),
])
def test_unusable_replies_raise_meta_errors(mutate, match):
    resp = table_config(1, ["127.0.0.1:1", "127.0.0.1:2"])
    mutate(resp)
    with pytest.raises(MetaError, match=match):
        TableConfig.from_response("t", resp, 1)


def test_unknown_table_is_table_not_found():
    resp = table_config(1, ["127.0.0.1:1"], err="ERR_OBJECT_NOT_FOUND")
    with pytest.raises(TableNotFound, match="'nope' does not exist") as ei:
        TableConfig.from_response("nope", resp, 1)
    assert not ei.value.retriable


def test_routing_is_unsigned_modulo_of_the_hash_vectors():
    for v in V["hash_key_to_partition"]["vectors"]:
        h = wire.hash_key_hash(bytes.fromhex(v["hash_key_hex"]))
        for count in (8, 16):
            cfg = TableConfig("t", 1, count, ("a:1",) * count, (1,) * count)
            assert cfg.partition_of(h) == v[f"partition_index_count_{count}"]
    for v in V["non_power_of_two_partition_count_divergence"]["vectors"]:
        h = wire.crc64(bytes.fromhex(v["hash_key_hex"]))
        cfg = TableConfig("t", 1, v["partition_count"], ("a:1",) * v["partition_count"],
                          (1,) * v["partition_count"])
        assert cfg.partition_of(h) == v["unsigned_mod_go_java_cpp"]


def test_split_child_not_ready_routes_to_parent():
    # 8 partitions after a split from 4: children 4..7 have ballot < 0 until ready
    cfg = TableConfig("t", 1, 8, ("a:1",) * 8, (3, 3, 3, 3, -1, 2, -1, 2))
    assert [cfg.partition_of(h) for h in range(8)] == [0, 1, 2, 3, 0, 5, 2, 7]


def test_unordered_split_matches_the_official_client():
    v = V["unordered_scanner_split"]
    got = split_partitions(v["partition_count"], v["max_split_count"])
    # pypegasus3 stores each list reversed and pops from the end: same sets, same visit order
    assert got == [list(reversed(lst)) for lst in v["scanners_partition_lists"]]
    assert split_partitions(8, 100) == [[7], [6], [5], [4], [3], [2], [1], [0]]
    assert split_partitions(4, 1) == [[0, 1, 2, 3]]
    assert sorted(p for lst in split_partitions(32, 5) for p in lst) == list(range(32))
    with pytest.raises(ValueError, match="max_split_count must be positive"):
        split_partitions(8, 0)
