"""Event-lag measurement cost: throughput with lag measurement on vs off, same run.

    python benchmarks/lag_bench.py               # what `make bench` runs (about 30 s)
    python benchmarks/lag_bench.py --count 500000 --repeat 7

**Connector** (the figure that matters): the loopback feed of ``ws_bench.py`` (``_feed.py``, its own
process) writes ``--count`` trade frames at line rate; a Connector in a fresh child process delivers
them to one lossless subscriber (``BLOCK``, 8192) with lag measurement on (the default) or off;
msg/s from its first to its last event.

**Dispatcher alone** (the worst case: no socket, no parsing, a callback that does nothing): one
producer thread publishes ``--count`` events (a slotted event with an ``event_time``, as the
library's) to one callback subscriber (``BLOCK``, so nothing is dropped and the producer keeps
the worker busy); the time from the first publish to the last callback is the dispatch time.
``on``: the dispatcher records each event's lag (``measure_lag=True``, clock offset set) just
before the callback, as a connector's does; ``off``: ``measure_lag=False``.  The two run
interleaved ``--repeat`` times; the medians are compared (the machine may be shared).  A second
figure times ``LagHistogram.record`` alone.

Target (issue 16): lag measurement costs the Connector at most 10% of its line-rate throughput (the worker
adds about 180 ns per event: a getattr, a clock read, a bisect and four updates).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from burst_bench import _Counter  # noqa: E402
from ws_bench import measure_in_child  # noqa: E402

from binance_conn._core.lag import LagHistogram  # noqa: E402
from binance_conn._io.dispatch import Dispatcher  # noqa: E402

TARGET = 0.10


def run_child(kind: str, port: int, count: int) -> Dict[str, Any]:
    import logging

    import binance_conn as bc

    logging.getLogger("binance_conn").setLevel(logging.ERROR)
    cfg = (bc.Config.builder().with_rest_url(f"http://127.0.0.1:{port}").with_ws_url(f"ws://127.0.0.1:{port}")
           .build())
    conn = bc.Connector(cfg)
    if kind == "off":
        conn._dispatcher.clock_offset = None  # subscribers made from now on measure nothing
    counter = _Counter(count)
    sub = conn.on_trade("BTCUSDT", counter, buffer=8192, overflow=bc.OverflowPolicy.BLOCK)
    conn.start()
    ok = counter.done.wait(120.0)
    res: Dict[str, Any] = {"completed": ok, **counter.result(sub)}
    res["recorded"] = sub.lag.count if sub.lag is not None else 0
    res["p99_ms"] = conn.stats()["lag"]["overall"]["p99_ms"]
    conn.stop(timeout=5.0)
    return res


def measure_connector(kind: str, count: int) -> Dict[str, Any]:
    return measure_in_child(__file__, kind, count)


class _Event:
    __slots__ = ("event_time", "trade_id")

    def __init__(self, event_time: int, trade_id: int) -> None:
        self.event_time = event_time
        self.trade_id = trade_id


def run_once(measure: bool, count: int) -> Dict[str, Any]:
    d = Dispatcher(measure_lag=measure, buffer=8192, overflow="BLOCK")
    if d.clock_offset is not None:
        d.clock_offset.set(0)
    done = threading.Event()
    last = count - 1

    def cb(ev: _Event) -> None:
        if ev.trade_id == last:
            done.set()

    sub = d.subscribe("btcusdt@trade", cb)
    now_ms = int(time.time() * 1000)
    events = [_Event(now_ms, i) for i in range(count)]
    d.start()
    publish = d.publish
    t0 = time.perf_counter()
    for ev in events:
        publish("btcusdt@trade", ev)
    done.wait(120)
    elapsed = time.perf_counter() - t0
    d.stop(time.monotonic() + 5)
    lag = sub.lag
    return {"rate": count / elapsed, "recorded": lag.count if lag is not None else 0, "delivered": sub.delivered}


def record_cost(n: int = 1_000_000) -> float:
    h = LagHistogram()
    now = time.time() * 1000.0
    t = int(now) - 3
    t0 = time.perf_counter()
    for _ in range(n):
        h.record(now, t)
    return (time.perf_counter() - t0) / n * 1e9


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--child", choices=("on", "off"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        sys.stdout.write(json.dumps(run_child(args.child, args.port, args.count)) + "\n")
        return 0
    print(f"lag_bench: {args.count:,} events x {args.repeat} rounds, on/off interleaved (medians); "
          f"cpus={os.cpu_count()}, python {sys.version.split()[0]}")
    conn_rates: Dict[str, List[float]] = {"off": [], "on": []}
    for i in range(args.repeat):
        for name in ("off", "on"):
            r = measure_connector(name, args.count)
            conn_rates[name].append(r["msgs_per_s"])
            print(f"  round {i + 1} connector lag {name:<3} {r['msgs_per_s']:>10,.0f} msg/s  delivered "
                  f"{r['delivered']:,}  lag recorded {r['recorded']:,}  p99 {r['p99_ms']} ms", flush=True)
    rates: Dict[str, List[float]] = {"off": [], "on": []}
    for _ in range(args.repeat):
        for name in ("off", "on"):
            d = run_once(name == "on", args.count)
            assert d["delivered"] == args.count, d
            assert d["recorded"] == (args.count if name == "on" else 0), d
            rates[name].append(d["rate"])
    c_off, c_on = statistics.median(conn_rates["off"]), statistics.median(conn_rates["on"])
    c_cost = 1.0 - c_on / c_off
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    cost = 1.0 - on / off
    print(f"  connector   lag off {c_off:>12,.0f} msg/s, on {c_on:>12,.0f} msg/s: {c_cost * 100:+.1f}% cost "
          f"(target <= {TARGET * 100:.0f}%: {'PASS' if c_cost <= TARGET else 'MISS'})")
    print(f"  dispatcher  lag off {off:>12,.0f} ev/s,  on {on:>12,.0f} ev/s:  {cost * 100:+.1f}% cost "
          "(bare fan-out, no-op callback: the worst case)")
    print(f"  LagHistogram.record alone: {record_cost():.0f} ns/event")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
