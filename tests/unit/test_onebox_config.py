"""Onebox settings: validation messages, CLI parsing, and the argv the API hands its child."""
import argparse

import pytest

from pegload.onebox import cli
from pegload.onebox.config import ConfigError, OneboxConfig


def parse(argv):
    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    return cli.config_from_args(p.parse_args(argv))


def test_defaults_are_a_real_onebox():
    cfg = parse([])
    assert cfg.host == "127.0.0.1"
    assert cfg.meta_ports == (34601, 34602, 34603) and cfg.replica_ports == (34801, 34802, 34803)
    assert cfg.tables == {"temp": 8} and cfg.data_dir is None and not cfg.send_host_port


def test_cli_options():
    cfg = parse(["--meta-ports", "0", "--replica-ports", "0,0", "--table", "a:4", "--table", "b.c:32",
                 "--data-dir", "/tmp/x", "--send-host-port", "--delay-ms", "3", "--busy-fraction", "0.1"])
    assert cfg.meta_ports == (0,) and cfg.replica_ports == (0, 0)
    assert cfg.tables == {"a": 4, "b.c": 32} and cfg.data_dir == "/tmp/x" and cfg.send_host_port
    assert cfg.delay_ms == 3.0 and cfg.busy_fraction == 0.1


@pytest.mark.parametrize("argv, msg", [
    (["--table", "temp"], "NAME:PARTITIONS"),
    (["--table", "temp:x"], "not an integer"),
    (["--meta-ports", "a,b"], "comma-separated port numbers"),
])
def test_cli_parse_errors(argv, msg, capsys):
    with pytest.raises(SystemExit):
        parse(argv)
    assert msg in capsys.readouterr().err


@pytest.mark.parametrize("kw, msg", [
    ({"meta_ports": ()}, "at least one meta"),
    ({"replica_ports": (70000,)}, "not within 0..65535"),
    ({"meta_ports": (5000,), "replica_ports": (5000,)}, "more than once"),
    ({"tables": {}}, "at least one table"),
    ({"tables": {"bad name": 4}}, "table name 'bad name'"),
    ({"tables": {"t": 0}}, "partition count 0"),
    ({"meta_leader": 3}, "meta_leader 3"),
    ({"busy_fraction": 2.0}, "busy_fraction"),
    ({"busy_fraction": 0.5, "close_fraction": 0.6}, "must not exceed 1"),
    ({"max_frame_bytes": 1000}, "max_frame_bytes 1000"),
    ({"max_frame_bytes": 2 << 20, "max_buffered_bytes": 1 << 20}, "at least max_frame_bytes"),
    ({"frame_timeout_s": 0}, "frame_timeout_s 0"),
    ({"idle_timeout_s": -1}, "idle_timeout_s -1"),
])
def test_validation_names_the_setting(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        OneboxConfig(**kw).validate()


def test_duplicate_table_in_cli():
    with pytest.raises(ConfigError, match="more than once"):
        parse(["--table", "a:2", "--table", "a:4"])


def test_to_argv_round_trips():
    cfg = OneboxConfig(host="127.0.0.1", meta_ports=(0, 0), replica_ports=(0, 0, 0),
                       tables={"temp": 8, "t32": 32}, data_dir="/tmp/d", send_host_port=True,
                       meta_leader=1, delay_ms=2.5, drop_fraction=0.25, log_level="WARNING",
                       max_frame_bytes=1 << 20, max_buffered_bytes=8 << 20, frame_timeout_s=2.5,
                       idle_timeout_s=60.0)
    assert parse(cfg.to_argv()) == cfg


def test_connection_bound_defaults():
    cfg = parse([])
    assert cfg.max_frame_bytes == 4 << 20 and cfg.max_buffered_bytes == 64 << 20
    assert cfg.frame_timeout_s == 30.0 and cfg.idle_timeout_s == 0.0


def test_register_adds_the_onebox_subcommand():
    p = argparse.ArgumentParser(prog="pegload")
    sub = p.add_subparsers(dest="command")
    cli.register(sub)
    args = p.parse_args(["onebox", "--table", "x:2", "--meta-ports", "0"])
    assert args.func is cli.run_cli and args.table == [("x", 2)] and args.meta_ports == (0,)
