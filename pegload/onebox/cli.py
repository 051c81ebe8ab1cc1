"""``pegload onebox`` (and ``python -m pegload.onebox``): run the embedded cluster in the
foreground until Ctrl-C."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from .config import (
    DEFAULT_HOST,
    DEFAULT_META_PORTS,
    DEFAULT_REPLICA_PORTS,
    DEFAULT_TABLES,
    ConfigError,
    OneboxConfig,
    parse_app_env,
    parse_ports,
    parse_table,
)
from .conn_limits import (
    DEFAULT_FRAME_TIMEOUT_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_BUFFERED_BYTES,
    DEFAULT_MAX_FRAME_BYTES,
)

DESCRIPTION = """\
Run an embedded, Pegasus-wire-compatible cluster (meta + replica servers, RocksDB storage) in the
foreground until Ctrl-C. Defaults are those of a real Pegasus onebox, so unmodified clients work:
metas on 34601-34603, replicas on 34801-34803, table temp with 8 partitions.
Fault options apply from the start; change them at run time through the printed control address
with the printed token file (pegload.onebox.ControlClient(addr, token_file))."""


def _ports(what):
    def parse(text):
        try:
            return parse_ports(text, what)
        except ConfigError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def _table(text):
    try:
        return parse_table(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _app_env(text):
    try:
        return parse_app_env(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _listed(ports) -> str:
    return ",".join(map(str, ports))


def add_arguments(p: argparse.ArgumentParser) -> None:
    default_tables = " ".join(f"{name}:{count}" for name, count in DEFAULT_TABLES.items())
    p.add_argument("--host", default=DEFAULT_HOST,
                   help="address to listen on and advertise (default %(default)s; loopback unless told)")
    p.add_argument("--meta-ports", type=_ports("--meta-ports"), default=DEFAULT_META_PORTS, metavar="P,P,..",
                   help=f"meta server ports, 0 = any free port (default {_listed(DEFAULT_META_PORTS)})")
    p.add_argument("--replica-ports", type=_ports("--replica-ports"), default=DEFAULT_REPLICA_PORTS,
                   metavar="P,P,..", help=f"replica server ports (default {_listed(DEFAULT_REPLICA_PORTS)})")
    p.add_argument("--table", type=_table, action="append", metavar="NAME:PARTITIONS",
                   help=f"a table to serve (repeatable; replaces the default {default_tables})")
    p.add_argument("--data-dir", default=None, metavar="DIR",
                   help="keep data here across restarts (default: a temporary dir removed on exit)")
    p.add_argument("--send-host-port", action="store_true",
                   help="send partition_configuration host_port fields 9-11 (newer servers do; "
                        "pypegasus3 0.0.1.1 cannot parse them)")
    p.add_argument("--meta-leader", type=int, default=0, metavar="I",
                   help="index of the leader meta; the others answer ERR_FORWARD_TO_OTHERS (default 0)")
    p.add_argument("--control-port", type=int, default=0, metavar="P",
                   help="loopback port of the control channel (default: any free port). Every request "
                        "must carry the random token written at start to a file only you can read "
                        "(DATA_DIR/control.token, printed); anything else is refused and the "
                        "connection closed")
    p.add_argument("--delay-ms", type=float, default=0.0, metavar="MS",
                   help="added latency of every replica reply, a floor: none leaves earlier (default 0)")
    p.add_argument("--busy-fraction", type=float, default=0.0, metavar="F",
                   help="fraction 0..1 of data requests answered ERR_BUSY (default 0)")
    p.add_argument("--drop-fraction", type=float, default=0.0, metavar="F",
                   help="fraction 0..1 of data requests never answered (default 0)")
    p.add_argument("--close-fraction", type=float, default=0.0, metavar="F",
                   help="fraction 0..1 of data requests that make the server close the connection (default 0)")
    p.add_argument("--max-frame-bytes", type=int, default=DEFAULT_MAX_FRAME_BYTES, metavar="N",
                   help="largest request frame accepted; a bigger one closes its connection as soon as "
                        "its header arrives (default %(default)s: 4x the real server's 1 MiB write limit)")
    p.add_argument("--max-buffered-bytes", type=int, default=DEFAULT_MAX_BUFFERED_BYTES, metavar="N",
                   help="bytes of incomplete frames all connections together may hold; the connection "
                        "that would exceed it is closed (default %(default)s)")
    p.add_argument("--frame-timeout", type=float, default=DEFAULT_FRAME_TIMEOUT_S, metavar="S",
                   help="a frame whose first bytes arrived must be complete within S seconds, or its "
                        "connection is closed (default %(default)s)")
    p.add_argument("--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT_S, metavar="S",
                   help="close connections that send nothing for S seconds (default 0 = never, as "
                        "real servers keep idle client sessions)")
    p.add_argument("--app-env", type=_app_env, action="append", default=[], metavar="TABLE:KEY=VALUE",
                   help="a table env from the start (repeatable), e.g. temp:replica.read_throttling=3000*delay*20;"
                        " supported: replica.{read,write}_throttling[_by_size], replica.backup_request_throttling")
    p.add_argument("--failure-detection-s", type=float, default=10.0, metavar="S",
                   help="seconds until the meta declares a killed replica server dead and moves its "
                        "primaries (default %(default)s, a real meta's fd_grace_seconds)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="server log on stderr (default %(default)s)")
    # for the Python API (pegload.onebox.Onebox): machine-readable "ready" line, die with parent
    p.add_argument("--ready-json", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)


def register(subparsers) -> None:
    p = subparsers.add_parser("onebox", help="run the embedded Pegasus-compatible cluster in the foreground",
                              description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run_cli)


def config_from_args(args) -> OneboxConfig:
    tables = dict(args.table) if args.table else dict(DEFAULT_TABLES)
    if args.table and len(tables) != len(args.table):
        raise ConfigError("--table: a table name is given more than once")
    cfg = OneboxConfig(
        host=args.host, meta_ports=tuple(args.meta_ports), replica_ports=tuple(args.replica_ports),
        tables=tables, data_dir=args.data_dir, send_host_port=args.send_host_port,
        meta_leader=args.meta_leader, control_port=args.control_port, delay_ms=args.delay_ms,
        busy_fraction=args.busy_fraction, drop_fraction=args.drop_fraction,
        close_fraction=args.close_fraction, log_level=args.log_level,
        max_frame_bytes=args.max_frame_bytes, max_buffered_bytes=args.max_buffered_bytes,
        frame_timeout_s=args.frame_timeout, idle_timeout_s=args.idle_timeout,
        app_envs=tuple(args.app_env), failure_detection_s=args.failure_detection_s,
    )
    cfg.validate()
    return cfg


def _announce_human(info: dict) -> None:
    lines = [
        "pegload onebox is serving (Ctrl-C to stop)",
        f"  meta servers:    {','.join(info['meta'])}",
        f"  replica servers: {','.join(info['replica'])}",
    ]
    for name, t in info["tables"].items():
        lines.append(f"  table {name}: app_id {t['app_id']}, {t['partition_count']} partitions")
    kind = "temporary, removed on exit" if info["temporary_data_dir"] else "kept"
    lines.append(f"  data dir:        {info['data_dir']} ({kind})")
    lines.append(f"  control:         {info['control']} (JSON lines; pegload.onebox.ControlClient)")
    lines.append(f"  control token:   {info['control_token_file']} (owner-only; every request needs it)")
    lines.append(f"  metrics:         http://{info['replica'][0]}/metrics (every meta and replica port)")
    print("\n".join(lines), flush=True)


def _announce_json(info: dict) -> None:
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()


def run_cli(args) -> int:
    try:
        cfg = config_from_args(args)
    except ConfigError as e:
        print(f"pegload onebox: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(level=getattr(logging, cfg.log_level), stream=sys.stderr,
                        format="%(asctime)s onebox[%(process)d] %(levelname)s %(message)s")
    from .loop import choose_backend

    choose_backend()  # before gevent's hub exists: precise reply-delay timers
    from .cluster import ClusterError
    from .runtime import run  # gevent and rocksdict only when we really serve
    from .storage import StorageError

    try:
        code = run(cfg, _announce_json if args.ready_json else _announce_human,
                   stop_on_stdin_eof=args.exit_on_stdin_eof)
        if not args.ready_json:
            print("pegload onebox stopped", flush=True)
        return code
    except (OSError, StorageError, ConfigError, ClusterError) as e:
        print(f"pegload onebox: {e}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pegload.onebox", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return run_cli(p.parse_args(argv))
