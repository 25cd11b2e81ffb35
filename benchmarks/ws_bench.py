"""Stream benchmark: the Connector against a bare websocket-client loop, same feed, same run.

    python benchmarks/ws_bench.py                 # what `make bench` runs (< 2 minutes)
    python benchmarks/ws_bench.py --count 50000   # quicker
    python benchmarks/ws_bench.py --profile       # + cProfile of the Connector's reader and worker

A feed process (``_feed.py``: raw sockets on 127.0.0.1, not the thing measured) sends
Binance combined-stream trade frames.  Each measurement runs in a fresh child process
(so CPU time and RSS are its own):

- **baseline**: ``websocket.create_connection()`` with default options, then on one thread
  ``ws.recv()`` -> ``simplejson.loads(text, use_decimal=True)`` -> a small ``__slots__``
  trade object (Decimal price and quantity);
- **baseline-tuned** (for reference only): the same with ``skip_utf8_validation=True``;
- **connector**: ``Connector.on_trade(...)`` against the feed (URL-subscribed
  ``/stream?streams=btcusdt@trade``; REST probe answered by the feed), measured from
  frame to the user callback on the subscriber's worker thread; lossless
  (``overflow=BLOCK``, 8192-event buffer).

Throughput: the feed writes ``--count`` frames as fast as the socket takes them;
msgs/s over first-to-last message at the consumer.  CPU: ``time.process_time()`` over
the same window (all threads of the consumer process), per message.  Latency: the feed
paces frames at ``--rate`` msg/s with its send time (``time.monotonic_ns()``, a
system-wide clock) in the ``E`` field; the consumer subtracts it from its own clock in
the callback.  RSS: the consumer's ``VmHWM`` (peak) from ``/proc/self/status``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 1.3
TARGET_P99_US = 175.0


# ---------------------------------------------------------------------------------------------- helpers
def _rss_kib() -> Dict[str, int]:
    out: Dict[str, int] = {}
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except OSError:  # not Linux: peak from getrusage
        import resource

        out["VmHWM"] = out["VmRSS"] = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return out


def _pct(values: List[int], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))])


class _Window:
    """First-to-last message timing and CPU, plus latency samples."""

    def __init__(self, count: int, latency: bool, warmup: int) -> None:
        self.count = count
        self.latency = latency
        self.warmup = warmup
        self.n = 0
        self.t0 = self.t1 = 0.0
        self.c0 = self.c1 = 0.0
        self.lat: List[int] = []
        self.done = threading.Event()

    def tick(self, event_time: int) -> None:
        n = self.n = self.n + 1
        if self.latency:
            if n > self.warmup:
                self.lat.append(time.monotonic_ns() - event_time)
        if n == 1:
            self.t0 = time.perf_counter()
            self.c0 = time.process_time()
        elif n >= self.count:
            self.t1 = time.perf_counter()
            self.c1 = time.process_time()
            self.done.set()

    def result(self) -> Dict[str, Any]:
        msgs = max(1, self.n - 1)
        elapsed = max(1e-9, self.t1 - self.t0)
        res: Dict[str, Any] = {
            "received": self.n,
            "msgs_per_s": msgs / elapsed,
            "cpu_us_per_msg": (self.c1 - self.c0) / msgs * 1e6,
            "elapsed_s": elapsed,
        }
        if self.lat:
            res["p50_us"] = _pct(self.lat, 0.50) / 1000.0
            res["p99_us"] = _pct(self.lat, 0.99) / 1000.0
            res["max_us"] = max(self.lat) / 1000.0
            res["samples"] = len(self.lat)
        res.update(_rss_kib())
        return res


class BareTrade:
    """The baseline's "small object"."""

    __slots__ = ("symbol", "trade_id", "price", "quantity", "trade_time", "is_buyer_maker", "event_time")

    def __init__(self, symbol: str, trade_id: int, price: Decimal, quantity: Decimal, trade_time: int,
                 is_buyer_maker: bool, event_time: int) -> None:
        self.symbol = symbol
        self.trade_id = trade_id
        self.price = price
        self.quantity = quantity
        self.trade_time = trade_time
        self.is_buyer_maker = is_buyer_maker
        self.event_time = event_time


# ---------------------------------------------------------------------------------------------- consumers
def run_baseline(port: int, count: int, latency: bool, tuned: bool, warmup: int) -> Dict[str, Any]:
    import simplejson
    import websocket

    url = f"ws://127.0.0.1:{port}/stream?streams=btcusdt@trade"
    ws = (websocket.create_connection(url, skip_utf8_validation=True) if tuned
          else websocket.create_connection(url))
    win = _Window(count, latency, warmup)
    loads = simplejson.loads
    recv = ws.recv
    tick = win.tick
    D = Decimal
    for _ in range(count):
        d = loads(recv(), use_decimal=True)["data"]
        obj = BareTrade(d["s"], d["t"], D(d["p"]), D(d["q"]), d["T"], d["m"], d["E"])
        tick(obj.event_time)
    res = win.result()
    ws.close()
    return res


def run_connector(port: int, count: int, latency: bool, warmup: int, profile: bool) -> Dict[str, Any]:
    import logging

    import binance_conn as bc

    logging.getLogger("binance_conn").setLevel(logging.ERROR)
    profiles: List[Any] = []
    if profile:
        _install_profilers(profiles)
    cfg = (bc.Config.builder().with_rest_url(f"http://127.0.0.1:{port}").with_ws_url(f"ws://127.0.0.1:{port}")
           .build())
    win = _Window(count, latency, warmup)
    tick = win.tick

    def on_trade(ev: Any) -> None:
        tick(ev.event_time)

    conn = bc.Connector(cfg)
    sub = conn.on_trade("BTCUSDT", on_trade, buffer=8192, overflow=bc.OverflowPolicy.BLOCK)
    conn.start()
    ok = win.done.wait(120.0)
    res = win.result()
    res["dropped"] = sub.dropped
    res["completed"] = ok
    res["stopped_in_time"] = conn.stop(timeout=5.0)
    if profile:
        res["profile"] = _profile_report(profiles)
    return res


# ---------------------------------------------------------------------------------------------- profiling
def _install_profilers(profiles: List[Any]) -> None:
    """cProfile the reader loop (StreamConn._serve) and the subscriber worker (_work) in their own threads."""
    import cProfile

    from binance_conn._io import dispatch as _dispatch
    from binance_conn._market import link as _stream

    def wrap(cls: Any, name: str, label: str) -> None:
        original = getattr(cls, name)

        def profiled(self: Any, *args: Any, **kwargs: Any) -> Any:
            prof = cProfile.Profile()
            profiles.append((label, prof))
            prof.enable()
            try:
                return original(self, *args, **kwargs)
            finally:
                prof.disable()

        setattr(cls, name, profiled)

    wrap(_stream.StreamConn, "_serve", "reader thread (StreamConn._serve)")
    wrap(_dispatch._CallbackSubscription, "_work", "worker thread (_CallbackSubscription._work)")


def _profile_report(profiles: List[Any]) -> str:
    import io
    import pstats

    out = io.StringIO()
    for label, prof in profiles:
        out.write(f"\n===== {label}: top by own time =====\n")
        stats = pstats.Stats(prof, stream=out)
        stats.sort_stats("tottime").print_stats(14)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- orchestration
def _start_feed(count: int, rate: float) -> "tuple[subprocess.Popen[str], int]":
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_feed.py"), "--count", str(count), "--rate", str(rate)],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        proc.kill()
        raise RuntimeError(f"feed did not start: {line!r}")
    return proc, int(line.split()[1])


def measure_in_child(script: str, kind: str, count: int, rate: float = 0.0,
                     extra: Sequence[str] = ()) -> Dict[str, Any]:
    """Start the loopback feed, run ``script --child KIND --port P --count N *extra`` against it
    in a fresh interpreter, and return the JSON its last stdout line holds."""
    feed, port = _start_feed(count, rate)
    try:
        cmd = [sys.executable, str(Path(script).resolve()), "--child", kind, "--port", str(port),
               "--count", str(count), *extra]
        env = dict(os.environ)
        env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=150, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"{kind} run failed:\n{done.stderr}")
        result: Dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result
    finally:
        feed.kill()
        feed.wait()


def _measure(kind: str, count: int, rate: float, args: argparse.Namespace) -> Dict[str, Any]:
    extra = ["--warmup", str(args.warmup)]
    if rate > 0:
        extra.append("--latency")
    if args.profile and kind == "connector" and rate <= 0:
        extra.append("--profile")
    return measure_in_child(__file__, kind, count, rate, extra)


def _child(args: argparse.Namespace) -> int:
    if args.child == "connector":
        res = run_connector(args.port, args.count, args.latency, args.warmup, args.profile)
    else:
        res = run_baseline(args.port, args.count, args.latency, args.child == "baseline-tuned", args.warmup)
    sys.stdout.write(json.dumps(res) + "\n")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Connector vs bare websocket-client: throughput, CPU, latency, RSS")
    p.add_argument("--count", type=int, default=200_000, help="frames in the throughput runs")
    p.add_argument("--rate", type=float, default=2000.0, help="msg/s in the latency runs")
    p.add_argument("--latency-seconds", type=float, default=5.0)
    p.add_argument("--warmup", type=int, default=500, help="latency samples discarded at the start")
    p.add_argument("--repeat", type=int, default=1, help="throughput runs per variant (best kept)")
    p.add_argument("--only", choices=["throughput", "latency"], help="run one half (quick iterations)")
    p.add_argument("--profile", action="store_true", help="cProfile the Connector's reader and worker threads")
    p.add_argument("--child", choices=["baseline", "baseline-tuned", "connector"], help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--latency", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)

    started = time.monotonic()
    print(f"ws_bench: {args.count:,} trade frames, loopback feed in its own process; cpus={os.cpu_count()}, "
          f"python {sys.version.split()[0]}")
    thr: Dict[str, Dict[str, Any]] = {}
    for kind in ("baseline", "baseline-tuned", "connector") if args.only != "latency" else ():
        best: Optional[Dict[str, Any]] = None
        for _ in range(max(1, args.repeat)):
            r = _measure(kind, args.count, 0.0, args)
            if best is None or r["msgs_per_s"] > best["msgs_per_s"]:
                best = r
        assert best is not None
        thr[kind] = best
        print(f"  throughput {kind:<15} {best['msgs_per_s']:>10,.0f} msg/s  {best['cpu_us_per_msg']:6.1f} CPU us/msg"
              f"  peak RSS {best['VmHWM'] / 1024:6.1f} MiB  ({best['received']:,} msgs in {best['elapsed_s']:.2f} s"
              + (f", dropped {best['dropped']}" if "dropped" in best else "") + ")", flush=True)
    lat_count = int(args.rate * args.latency_seconds) + args.warmup
    lat: Dict[str, Dict[str, Any]] = {}
    for kind in ("baseline", "baseline-tuned", "connector") if args.only != "throughput" else ():
        r = _measure(kind, lat_count, args.rate, args)
        lat[kind] = r
        print(f"  latency    {kind:<15} at {args.rate:,.0f} msg/s: p50 {r['p50_us']:6.1f} us  p99 {r['p99_us']:6.1f} us"
              f"  max {r['max_us']:7.1f} us  ({r['samples']:,} samples, {r['cpu_us_per_msg']:.1f} CPU us/msg)",
              flush=True)

    if args.only:
        if args.profile and "profile" in thr.get("connector", {}):
            print(thr["connector"]["profile"])
        return 0
    ratio = thr["connector"]["msgs_per_s"] / thr["baseline"]["msgs_per_s"]
    ratio_tuned = thr["connector"]["msgs_per_s"] / thr["baseline-tuned"]["msgs_per_s"]
    p99 = lat["connector"]["p99_us"]
    print()
    print(f"Connector / baseline throughput: {ratio:.2f}x (target >= {TARGET_RATIO}x: "
          f"{'PASS' if ratio >= TARGET_RATIO else 'MISS'}); vs tuned baseline {ratio_tuned:.2f}x")
    print(f"Connector p99 at {args.rate:,.0f} msg/s: {p99:.1f} us (target <= {TARGET_P99_US:.0f} us: "
          f"{'PASS' if p99 <= TARGET_P99_US else 'MISS'})")
    print(f"CPU per message: baseline {thr['baseline']['cpu_us_per_msg']:.1f} us, "
          f"connector {thr['connector']['cpu_us_per_msg']:.1f} us")
    print(f"Peak RSS: baseline {thr['baseline']['VmHWM'] / 1024:.1f} MiB, "
          f"connector {thr['connector']['VmHWM'] / 1024:.1f} MiB")
    print(f"(total {time.monotonic() - started:.0f} s)")
    if args.profile and "profile" in thr["connector"]:
        print(thr["connector"]["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
