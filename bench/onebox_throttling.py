"""A read-throttled onebox as a known capacity: paced gets at a few rates, the share the server
delayed, and the client's latency percentiles.

    .venv/bin/python bench/onebox_throttling.py [--env 3000*delay*20] [--rates 2700,2900,3300]
                                                [--seconds 5] [--partitions 8]

Starts a onebox with ``replica.read_throttling=ENV`` on table ``temp``, writes the keys, then for
each rate sends gets at evenly spaced slots (one greenlet per get, so a slow reply does not hold
back the next slot) over uniformly random keys, and prints: achieved rate, the share of gets the
server delayed (its ``throttling_delayed_read_requests`` counter), and the client's p50 / p99.
The delayed share is the server's verdict, independent of client noise; p99 is what an SLO sees.
"""
from __future__ import annotations

import argparse
import random
import sys
import time

import gevent

from pegload.client import Pegasus
from pegload.onebox import Onebox

DELAYED = "throttling_delayed_read_requests"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="3000*delay*20", help="replica.read_throttling value")
    p.add_argument("--rates", default="2700,2900,3300", help="comma-separated gets per second")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each rate step")
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--keys", type=int, default=2000)
    args = p.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]
    print(f"replica.read_throttling={args.env} on temp:{args.partitions}; {args.seconds:.0f}s per rate")
    print(f"{'target/s':>9}{'achieved/s':>12}{'delayed':>9}{'p50 ms':>9}{'p99 ms':>9}")
    with Onebox(tables={"temp": args.partitions},
                app_envs={"temp": {"replica.read_throttling": args.env}}) as ob:
        c = Pegasus(ob.meta_addrs, "temp", timeout=2000)
        c.init()
        try:
            for i in range(args.keys):
                c.set(f"u{i}", "s", "v")
            for rate in rates:
                before = ob.counters()["throttling"].get(DELAYED, 0)
                lats: list[float] = []

                def one(lats=lats):
                    t = time.perf_counter()
                    c.get(f"u{random.randrange(args.keys)}", "s")
                    lats.append(time.perf_counter() - t)

                n = int(rate * args.seconds)
                t0 = time.perf_counter()
                jobs = []
                for k in range(n):
                    wait = t0 + k / rate - time.perf_counter()
                    if wait > 0:
                        gevent.sleep(wait)
                    jobs.append(gevent.spawn(one))
                gevent.joinall(jobs)
                achieved = n / (time.perf_counter() - t0)
                delayed = ob.counters()["throttling"].get(DELAYED, 0) - before
                lats.sort()
                print(f"{rate:>9}{achieved:>12.0f}{100 * delayed / n:>8.2f}%"
                      f"{lats[len(lats) // 2] * 1e3:>9.2f}{lats[int(len(lats) * 0.99)] * 1e3:>9.2f}")
        finally:
            c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
