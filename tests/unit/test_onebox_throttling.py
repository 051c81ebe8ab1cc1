"""Table-env throttling against the rules of the server code (throttling_controller.cpp,
token_bucket_throttling_controller.cpp, replica_throttle.cpp), with injected clocks."""
import logging

import pytest

from pegload.client.wire import (
    RPC_GET,
    RPC_PUT,
    RequestHeader,
    UpdateRequest,
)
from pegload.client.wire.errors import ERR_INVALID_STATE, ERR_OBJECT_NOT_FOUND
from pegload.client.wire.frames import Request
from pegload.onebox.app_envs import DELAY, DROP, REJECT, AppEnvError, AppEnvs, read_charge
from pegload.onebox.cluster import Cluster, Node
from pegload.onebox.config import ConfigError, OneboxConfig, parse_app_env
from pegload.onebox.throttling import (
    PASS,
    Rules,
    ThrottleParseError,
    TokenBucketController,
    WindowController,
    parse_rules,
    parse_size_bucket_rate,
    parse_uint64,
    parse_units,
    validate_env,
)


class Clock:
    def __init__(self, t=1_700_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


# ------------------------------------------------------------------ parsing
@pytest.mark.parametrize("value, rules", [
    ("3000*delay*20", Rules(3000, 20, 0, 0)),
    ("100*reject*50", Rules(0, 0, 100, 50)),
    ("1K*delay*100,2M*reject*200", Rules(1024, 100, 2 << 20, 200)),
    ("2M*reject*0, 5K*delay*7", Rules(5 << 10, 7, 2 << 20, 0)),  # order free, spaces stripped
    (" 10 * delay * 5 ", Rules(10, 5, 0, 0)),
    ("0x10*delay*010", Rules(16, 8, 0, 0)),  # strtoull base 0
    ("10*delay*5,,", Rules(10, 5, 0, 0)),  # empty items are skipped
    ("0*delay*5", Rules(0, 5, 0, 0)),  # parses; 0 units = rule off
])
def test_parse_rules_accepts_what_the_server_accepts(value, rules):
    assert parse_rules(value) == rules


@pytest.mark.parametrize("value, why", [
    ("", "empty"),
    ("3000", "field count"),
    ("3000*delay", "field count"),
    ("3000*slow*5", "'slow' should be 'delay' or 'reject'"),
    ("3k*delay*5", "unsigned integer"),  # only upper-case K/M
    ("-3*delay*5", "unsigned integer"),
    ("3*delay*x", "unsigned integer"),
    ("3*delay*5,4*delay*6", "duplicate 'delay'"),
    ("3*reject*5,4*reject*6", "duplicate 'reject'"),
    ("99999999999999999999*delay*1", "unsigned integer"),  # > u64
    ("20000000000000M*delay*1", "overflows"),
])
def test_parse_rules_refuses_what_the_server_refuses(value, why):
    with pytest.raises(ThrottleParseError, match=why):
        parse_rules(value)


def test_units_and_uint64():
    assert parse_units("3K") == 3072 and parse_units("2M") == 2 << 20 and parse_units("7") == 7
    assert parse_uint64("-0") == 0 and parse_uint64("-1") is None and parse_uint64("") is None
    assert parse_uint64("  12") == 12 and parse_uint64("12 ") is None and parse_uint64("08") is None


# ------------------------------------------------------------------ QPS window
def controller(value, partitions, clock=None):
    c = WindowController(clock or Clock())
    c.configure(value, partitions)
    return c


def test_limit_is_split_over_partitions_plus_one():
    c = controller("3000*delay*20", 8)
    assert c.delay_units == 3000 // 8 + 1 == 376
    got = [c.control(0, 1) for _ in range(377)]
    assert got[:376] == [(PASS, 0)] * 376
    assert got[376] == (DELAY, 20)


def test_delay_wait_is_capped_by_half_the_client_timeout():
    c = controller("1*delay*20", 1)  # limit 2
    c.control(0, 1), c.control(0, 1)
    assert c.control(30, 1) == (DELAY, 15)  # min(20, 30 // 2)
    assert c.control(100, 1) == (DELAY, 20)
    assert c.control(0, 1) == (DELAY, 20)  # no timeout in the header: the configured ms
    assert c.control(1, 1) == (DELAY, 0)  # 1 // 2 = 0: processed at once, still counted


def test_reject_takes_the_units_back_and_answers_after_the_capped_wait():
    c = controller("100*reject*50", 4)  # 26 per partition
    for _ in range(26):
        assert c.control(0, 1) == (PASS, 0)
    assert c.control(0, 1) == (REJECT, 50)
    assert c.units == 26  # the rejected unit was taken back
    assert c.control(40, 1) == (REJECT, 20)
    c2 = controller("1*reject*0", 1)
    c2.control(0, 1), c2.control(0, 1)
    assert c2.control(1000, 1) == (REJECT, 0)  # ERR_BUSY at once


def test_both_rules_reject_first_then_delay():
    c = controller("10*delay*5,20*reject*7", 1)  # delay over 11, reject over 21
    got = [c.control(0, 1)[0] for _ in range(25)]
    assert got == [PASS] * 11 + [DELAY] * 10 + [REJECT] * 4


def test_window_is_the_wall_clock_second():
    clock = Clock(1000.95)
    c = controller("1*reject*0", 1)  # 2 per second
    c.clock = clock
    assert [c.control(0, 1)[0] for _ in range(3)] == [PASS, PASS, REJECT]
    clock.t = 1000.999
    assert c.control(0, 1)[0] == REJECT  # same second
    clock.t = 1001.0
    assert [c.control(0, 1)[0] for _ in range(3)] == [PASS, PASS, REJECT]  # new window


def test_size_rule_counts_bytes_with_suffixes():
    c = controller("1K*reject*0", 2)  # 512 + 1 bytes per partition
    assert c.control(0, 500)[0] == PASS
    assert c.control(0, 14)[0] == REJECT  # 514 > 513
    assert c.control(0, 13)[0] == PASS  # 513 is not over


def test_same_value_keeps_state_and_reset_turns_off():
    c = controller("1*reject*0", 1)
    c.control(0, 1), c.control(0, 1)
    assert c.configure("1*reject*0", 1) is False  # unchanged: counter kept
    assert c.control(0, 1)[0] == REJECT
    assert c.reset() is True and c.control(0, 1) == (PASS, 0)


# ------------------------------------------------------------------ read-size token bucket
def test_read_size_bucket_rate_forms():
    assert parse_size_bucket_rate("2000") == (2000, True)
    assert parse_size_bucket_rate("2K") == (2048, True)
    assert parse_size_bucket_rate("20000*delay*100") == (1, False)  # delay only: bucket off
    assert parse_size_bucket_rate("20000*delay*100,30000*reject*100") == (30000, True)
    with pytest.raises(ThrottleParseError):
        parse_size_bucket_rate("20000*reject*0,x")
    with pytest.raises(ThrottleParseError, match="greater than 0"):
        parse_size_bucket_rate("0*reject*1")


def test_read_size_bucket_refuses_while_borrowed_and_refills_with_time():
    clock = Clock(100.0)
    b = TokenBucketController(clock)
    b.configure("800", 8)  # 100 bytes/s per partition, burst 100
    b.zero_time = 0.0  # a long-idle bucket is full
    assert b.available()
    b.consume(100)
    assert not b.available()  # empty: the next read is refused
    clock.t = 100.5  # half a second refills 50
    assert b.available()
    b.consume(90)  # borrows: -40
    assert not b.available()
    clock.t = 100.8
    assert not b.available()  # -40 + 30
    clock.t = 101.0
    assert b.available()  # -40 + 50
    b.consume(101)  # over the burst: not charged at all
    assert b.available()


# ------------------------------------------------------------------ per replica, per request
class FakePartition:
    def __init__(self, i):
        self.index = i

    def drop_scan_contexts(self):
        pass


@pytest.fixture
def envs():
    c = Cluster([Node("127.0.0.1", 34601)], [Node("127.0.0.1", 34801 + i) for i in range(3)])
    c.add_table("temp", 1, [FakePartition(i) for i in range(8)])
    return AppEnvs(c, clock=Clock(), mono=Clock())


def req(name, pidx=0, timeout=0, backup=False):
    h = RequestHeader(1, 1, pidx, timeout, 0, 0, backup)
    args = UpdateRequest(b"\x00\x01ks", b"v", 0) if name == RPC_PUT else b"\x00\x01ks"
    return Request(h, 1, name, 1, args)


def test_each_replica_server_has_its_own_counters(envs):
    envs.set("temp", {"replica.read_throttling": "8*reject*5"})  # 2 per partition
    outs = [envs.throttle(0, req(RPC_GET), 10, None)[0] for _ in range(3)]
    assert outs == [None, None, REJECT]
    assert envs.throttle(1, req(RPC_GET), 10, None)[0] is None  # another server, fresh window
    assert envs.throttle(0, req(RPC_GET, pidx=1), 10, None)[0] is None  # another partition


def test_reads_are_throttled_before_the_primary_check_writes_after(envs):
    envs.set("temp", {"replica.read_throttling": "8*delay*9", "replica.write_throttling": "8*delay*9"})
    for _ in range(2):
        assert envs.throttle(0, req(RPC_GET), 10, ERR_INVALID_STATE)[0] is None
    assert envs.throttle(0, req(RPC_GET), 10, ERR_INVALID_STATE)[:3] == (
        DELAY, 0.009, "throttling_delayed_read_requests")
    assert envs.throttle(0, req(RPC_GET), 10, ERR_OBJECT_NOT_FOUND)[0] is None  # not on this node
    for _ in range(5):  # a secondary's write refusal never reaches the write throttle
        assert envs.throttle(0, req(RPC_PUT), 10, ERR_INVALID_STATE)[0] is None
    assert envs.throttle(0, req(RPC_PUT), 10, None)[0] is None
    assert envs.throttle(0, req(RPC_PUT), 10, None)[0] is None
    assert envs.throttle(0, req(RPC_PUT, timeout=4), 10, None)[:2] == (DELAY, 0.002)


def test_write_size_rule_is_charged_only_when_the_qps_rule_passed(envs):
    envs.set("temp", {"replica.write_throttling": "8*delay*1", "replica.write_throttling_by_size": "8*reject*0"})
    assert envs.throttle(0, req(RPC_PUT), 1, None)[0] is None  # qps 1/2, size 1/2
    assert envs.throttle(0, req(RPC_PUT), 1, None)[0] is None  # qps 2/2, size 2/2
    assert envs.throttle(0, req(RPC_PUT), 1, None)[0] is DELAY  # qps delays; size not charged
    ctl = envs.throttles[(0, 1, 0)].write_size
    assert ctl.units == 2


def test_backup_reject_drops_the_request(envs):
    envs.set("temp", {"replica.backup_request_throttling": "1*reject*0"})
    got = [envs.throttle(1, req(RPC_GET, backup=True), 1, None) for _ in range(3)]
    assert got[2] == (DROP, 0.0, "throttling_rejected_backup_requests")
    assert envs.throttle(1, req(RPC_GET), 1, None)[0] is None  # ordinary reads: another rule


def test_malformed_value_turns_throttling_off_with_a_log_line(envs, caplog):
    envs.set("temp", {"replica.read_throttling": "1*reject*0"})
    with caplog.at_level(logging.WARNING, logger="pegload.onebox"):
        envs.set("temp", {"replica.read_throttling": "1*rejct*0"}, validate=False)
    assert "parse env failed" in caplog.text and "replica.read_throttling" in caplog.text
    assert caplog.text.count("parse env failed") == 1  # once, not once per replica
    assert all(envs.throttle(0, req(RPC_GET), 1, None)[0] is None for _ in range(10))
    with pytest.raises(AppEnvError, match="should be 'delay' or 'reject'"):
        envs.set("temp", {"replica.read_throttling": "1*rejct*0"})  # validated by default


def test_env_changes_and_removal(envs):
    envs.set("temp", {"replica.read_throttling": "8*reject*0"})
    assert envs.active and envs.get() == {"temp": {"replica.read_throttling": "8*reject*0"}}
    envs.delete("temp", ["replica.read_throttling"])
    assert not envs.active and envs.get() == {}
    envs.set("temp", {"replica.read_throttling": "8*reject*0", "replica.write_throttling": "8*reject*0"})
    assert envs.clear("temp", "replica") == {}
    with pytest.raises(AppEnvError, match="no table 'nope'"):
        envs.set("nope", {"replica.read_throttling": "1*delay*1"})
    with pytest.raises(AppEnvError, match="not emulated"):
        envs.set("temp", {"default_ttl": "100"})


def test_read_charge_follows_the_capacity_unit_rules():
    from pegload.client.wire import ReadResponse
    assert read_charge(RPC_GET, b"\x00\x01ks", ReadResponse(0, b"value")) == 4 + 5
    assert read_charge(RPC_GET, b"\x00\x01ks", ReadResponse(1, b"")) == 1


# ------------------------------------------------------------------ start-time settings
def test_app_env_option_parsing_and_validation():
    assert parse_app_env("temp:replica.read_throttling=3000*delay*20") == (
        "temp", "replica.read_throttling", "3000*delay*20")
    with pytest.raises(ConfigError, match="expected TABLE:KEY=VALUE"):
        parse_app_env("replica.read_throttling=1*delay*1")
    with pytest.raises(ConfigError, match="no table 'x'"):
        OneboxConfig(tables={"temp": 8}, app_envs=(("x", "replica.read_throttling", "1*delay*1"),)).validate()
    with pytest.raises(ConfigError, match="field count"):
        OneboxConfig(tables={"temp": 8}, app_envs=(("temp", "replica.read_throttling", "1*delay"),)).validate()
    cfg = OneboxConfig(tables={"temp": 8}, app_envs=(("temp", "replica.write_throttling", "1K*reject*5"),))
    cfg.validate()
    assert "temp:replica.write_throttling=1K*reject*5" in cfg.to_argv()
    with pytest.raises(ThrottleParseError, match="not emulated"):
        validate_env("replica.deny_client_request", "timeout*all")


def test_cli_options_for_envs_and_failure_detection():
    import argparse

    from pegload.onebox.cli import add_arguments, config_from_args

    p = argparse.ArgumentParser()
    add_arguments(p)
    cfg = config_from_args(p.parse_args([
        "--app-env", "temp:replica.read_throttling=3000*delay*20",
        "--app-env", "temp:replica.write_throttling_by_size=1M*reject*5", "--failure-detection-s", "2.5"]))
    assert cfg.app_envs == (("temp", "replica.read_throttling", "3000*delay*20"),
                            ("temp", "replica.write_throttling_by_size", "1M*reject*5"))
    assert cfg.failure_detection_s == 2.5
    with pytest.raises(ConfigError, match="failure_detection_s"):
        config_from_args(p.parse_args(["--failure-detection-s", "-1"]))
    with pytest.raises(ConfigError, match="'dely' should be 'delay' or 'reject'"):
        config_from_args(p.parse_args(["--app-env", "temp:replica.read_throttling=3*dely*2"]))
