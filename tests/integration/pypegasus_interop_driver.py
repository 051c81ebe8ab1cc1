"""Drive the official client (pypegasus3 0.0.1.1, Twisted) for the interop tests.

    python pypegasus_interop_driver.py META[,META...] TABLE < plan.json > results.json

``plan.json`` is a list of calls ``[method, args...]`` with text arguments (pypegasus3 mangles
bytes sort keys in multi-operations, so the tests use text); the output is one result per
call in a JSON form both clients can be compared in: bytes (and text, as UTF-8) as "0x<hex>",
dicts as sorted pairs.
Runs in its own process (Twisted's reactor must not meet gevent's hub) and in a temporary
working directory (pypegasus3 configures logging to ./pegasus.log when imported).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile


def jsonable(v):
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, str):
        return "0x" + v.encode("utf-8").hex()
    if isinstance(v, dict):
        return sorted([jsonable(k), jsonable(x)] for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if hasattr(v, "value") and hasattr(v, "name"):  # an error_types member (RPC-level failure)
        return v.value
    return v


def main() -> int:
    metas, table = sys.argv[1].split(","), sys.argv[2]
    plan = json.load(sys.stdin)
    os.chdir(tempfile.mkdtemp(prefix="pypegasus-interop-"))
    from pypegasus.pgclient import Pegasus
    from pypegasus.utils.tools import MultiGetOptions, ScanOptions
    from twisted.internet import defer, reactor

    results: list = []
    failure: list = []

    def options(cls, attrs):
        o = cls()
        for k, v in (attrs or {}).items():
            setattr(o, k, v)
        return o

    @defer.inlineCallbacks
    def scan_all(scanner):
        out = []
        while True:
            item = yield scanner.get_next()
            if item is None:
                return out
            (hk, sk), value = item
            out.append([hk, sk, value])

    @defer.inlineCallbacks
    def run():
        c = Pegasus(metas, table)
        try:
            ok = yield c.init()
            if ok is not True:
                raise RuntimeError(f"pypegasus3 init returned {ok!r}")
            for call in plan:
                method, args = call[0], call[1:]
                if method == "multi_get_opt":
                    hk, start, stop, opts = args
                    r = yield c.multi_get_opt(hk, start, stop, options(MultiGetOptions, opts))
                elif method == "scan":
                    hk, start, stop, opts = args
                    r = yield scan_all(c.get_scanner(hk, start, stop, options(ScanOptions, opts)))
                elif method == "unordered_scan":
                    rows = []
                    for s in c.get_unordered_scanners(args[0], options(ScanOptions, args[1])):
                        rows += yield scan_all(s)
                    r = sorted(rows)
                elif method in ("multi_get", "multi_del"):
                    hk, keys = args[0], args[1]
                    r = yield getattr(c, method)(hk, None if keys is None else set(keys), *args[2:])
                else:
                    r = yield getattr(c, method)(*args)
                results.append(jsonable(r))
        except BaseException as e:  # reported to the test, which fails with it
            failure.append(f"{type(e).__name__}: {e}")
        finally:
            c.close()
            reactor.stop()

    reactor.callWhenRunning(run)
    reactor.run()
    if failure:
        print(failure[0], file=sys.stderr)
        return 1
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
