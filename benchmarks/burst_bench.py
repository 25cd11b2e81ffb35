"""Burst benchmark: what a line-rate burst costs each subscriber, default settings against ``BLOCK``, same run.

    python benchmarks/burst_bench.py               # what `make bench` runs (about 30 s)
    python benchmarks/burst_bench.py --repeat 1    # quicker
    python benchmarks/burst_bench.py --count 50000

The loopback feed of ``ws_bench.py`` (``_feed.py``, its own process) writes ``--count`` combined-stream trade
frames as fast as the socket takes them; each scenario runs the Connector in a fresh child process:

- **default**: ``conn.on_trade("BTCUSDT", count)`` with the default buffer and policy (``DROP_OLDEST``, 1024);
- **block**: the same subscriber with ``overflow=BLOCK, buffer=8192`` (lossless by construction: the reference);
- **mixed**: the default counting subscriber beside a 10 ms/event subscriber (defaults too) on the same stream.

Per subscriber: delivered, dropped (``Subscription.dropped``, also the ones ``stop()`` discards) and msg/s from
its first to its last event (trade id ``--count``: ``DROP_OLDEST`` never drops the newest).  The counting
subscriber gets every frame the reader publishes, so its rate is the reader's throughput.  The scenarios run
interleaved ``--repeat`` times and the ratios compare the medians of this run (the machine may be shared).

Targets (issue 12): default drops 0 and runs within 10% of block; in mixed, the fast subscriber gets everything,
the slow one's drops are counted, and the reader stays within 10% of the default (fast-only) run.
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
from typing import Any, Dict, List, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from ws_bench import _rss_kib, measure_in_child  # noqa: E402  (the loopback feed and its helpers)

SCENARIOS = ("default", "block", "mixed")
TARGET_RATIO = 0.9
SLOW_SECONDS = 0.010


class _Counter:
    """A callback that counts, and times first-to-last (the last event carries trade id ``count``)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.n = 0
        self.t0 = self.t1 = 0.0
        self.c0 = self.c1 = 0.0
        self.done = threading.Event()

    def __call__(self, ev: Any) -> None:
        self.n += 1
        if self.n == 1:
            self.t0 = time.perf_counter()
            self.c0 = time.process_time()
        if ev.trade_id >= self.count:
            self.t1 = time.perf_counter()
            self.c1 = time.process_time()
            self.done.set()

    def result(self, sub: Any) -> Dict[str, Any]:
        elapsed = max(1e-9, self.t1 - self.t0)
        return {"delivered": sub.delivered, "dropped": sub.dropped, "msgs_per_s": max(0, self.count - 1) / elapsed,
                "elapsed_s": elapsed, "cpu_us_per_msg": (self.c1 - self.c0) / max(1, self.n - 1) * 1e6}


def run_child(kind: str, port: int, count: int) -> Dict[str, Any]:
    import logging

    import binance_conn as bc

    logging.getLogger("binance_conn").setLevel(logging.ERROR)
    cfg = (bc.Config.builder().with_rest_url(f"http://127.0.0.1:{port}").with_ws_url(f"ws://127.0.0.1:{port}")
           .build())
    conn = bc.Connector(cfg)
    fast = _Counter(count)
    if kind == "block":
        sub = conn.on_trade("BTCUSDT", fast, buffer=8192, overflow=bc.OverflowPolicy.BLOCK)
    else:
        sub = conn.on_trade("BTCUSDT", fast)
    slow_sub = None
    slow_seen = [0]
    if kind == "mixed":
        def slow(ev: Any) -> None:
            slow_seen[0] += 1
            time.sleep(SLOW_SECONDS)

        slow_sub = conn.on_trade("BTCUSDT", slow)
    conn.start()
    ok = fast.done.wait(120.0)
    res: Dict[str, Any] = {"completed": ok, **fast.result(sub)}
    if slow_sub is not None:
        res["slow_pending_at_end"] = slow_sub.pending
        res["stopped_in_time"] = conn.stop(timeout=0.5)  # the slow one's backlog is dropped (counted) at the deadline
        end = time.monotonic() + 2.0  # the callback in flight at the deadline still ends (and counts)
        while slow_sub.delivered + slow_sub.dropped + slow_sub.pending != count and time.monotonic() < end:
            time.sleep(0.01)
        res["slow_delivered"] = slow_sub.delivered
        res["slow_dropped"] = slow_sub.dropped
        res["slow_accounted"] = slow_sub.delivered + slow_sub.dropped + slow_sub.pending == count
    else:
        res["stopped_in_time"] = conn.stop(timeout=5.0)
    res["delivered"], res["dropped"] = sub.delivered, sub.dropped
    res.update(_rss_kib())
    return res


def _measure(kind: str, count: int) -> Dict[str, Any]:
    return measure_in_child(__file__, kind, count)


def _line(kind: str, r: Dict[str, Any]) -> str:
    text = (f"  {kind:<8} {r['msgs_per_s']:>10,.0f} msg/s  delivered {r['delivered']:>7,}  dropped {r['dropped']:>7,}"
            f"  {r['cpu_us_per_msg']:5.1f} CPU us/msg")
    if "slow_delivered" in r:
        text += (f"  | slow: delivered {r['slow_delivered']:,} dropped {r['slow_dropped']:,}"
                 f" (all accounted: {r['slow_accounted']})")
    if not r["completed"]:
        text += "  INCOMPLETE"
    return text


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="line-rate burst: default settings vs BLOCK, and a slow subscriber")
    p.add_argument("--count", type=int, default=200_000, help="frames per burst")
    p.add_argument("--repeat", type=int, default=5, help="rounds of the scenarios, interleaved (medians compared)")
    p.add_argument("--only", choices=SCENARIOS, action="append", help="run only these scenarios")
    p.add_argument("--child", choices=SCENARIOS, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        sys.stdout.write(json.dumps(run_child(args.child, args.port, args.count)) + "\n")
        return 0

    started = time.monotonic()
    kinds = args.only or list(SCENARIOS)
    print(f"burst_bench: {args.count:,} trade frames at line rate, loopback feed in its own process; "
          f"cpus={os.cpu_count()}, python {sys.version.split()[0]}, {args.repeat} round(s)")
    runs: Dict[str, List[Dict[str, Any]]] = {k: [] for k in kinds}
    for i in range(max(1, args.repeat)):
        for kind in kinds:
            r = _measure(kind, args.count)
            runs[kind].append(r)
            print(f"  round {i + 1}" + _line(kind, r), flush=True)

    med = {k: statistics.median(r["msgs_per_s"] for r in rs) for k, rs in runs.items()}
    cpu = {k: statistics.median(r["cpu_us_per_msg"] for r in rs) for k, rs in runs.items()}
    print()
    for kind in kinds:
        drops = [r["dropped"] for r in runs[kind]]
        print(f"  {kind:<8} median {med[kind]:>10,.0f} msg/s, {cpu[kind]:4.1f} CPU us/msg; dropped per round {drops}")
    if "default" in med and "block" in med:
        ratio = med["default"] / med["block"]
        lossless = all(r["dropped"] == 0 and r["delivered"] == args.count for r in runs["default"])
        print(f"burst: default drops 0 in every round: {_verdict(lossless)}; default / block throughput "
              f"{ratio:.2f} (target >= {TARGET_RATIO}: {_verdict(ratio >= TARGET_RATIO)}); CPU per msg "
              f"block / default {cpu['block'] / cpu['default']:.2f}")
    if "mixed" in med and "default" in med:
        ratio = med["mixed"] / med["default"]
        fast_all = all(r["dropped"] == 0 and r["delivered"] == args.count for r in runs["mixed"])
        counted = all(r["slow_accounted"] and r["slow_dropped"] > 0 for r in runs["mixed"])
        print(f"mixed: fast subscriber gets everything: {_verdict(fast_all)}; slow drops counted: "
              f"{_verdict(counted)}; reader mixed / fast-only {ratio:.2f} (target >= {TARGET_RATIO}: "
              f"{_verdict(ratio >= TARGET_RATIO)}); CPU per msg default / mixed {cpu['default'] / cpu['mixed']:.2f}")
    print(f"(total {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
