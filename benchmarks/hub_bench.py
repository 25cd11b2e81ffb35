"""Hub benchmark: end-to-end latency exchange event -> consumer callback through ``bc.Hub`` + Redis +
``bc.RedisFeed``, against a plain Connector callback on the same events in the same run.

    python benchmarks/hub_bench.py                 # what `make bench` runs: 3 consumers, 500 trades/s, 10 s
    python benchmarks/hub_bench.py --consumers 1 --rate 2000 --seconds 5

One process runs FakeBinance, the Hub and the baseline Connector (``on_trade`` callback); each
consumer is its own process with a ``RedisFeed`` (``on_trade``), as in production.  The parent
publishes trades at ``--rate`` with ``fake.publish_trade`` and notes ``time.monotonic_ns()`` (one
system-wide clock on Linux) just before each; every callback notes the same clock.  Latency =
callback time - publish time, per trade id: p50 / p99 / max for the baseline and for each
consumer (the first second left out: cold code paths), and whether every consumer got every id
once, in order.  Needs ``redis-server``
(started here on a free port, no persistence).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List

import binance_conn as bc
from binance_conn.testing import FakeBinance

SYM = "BTCUSDT"
ROOT = Path(__file__).resolve().parent.parent


def pct(values: List[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def consumer(url: str, prefix: str, count: int, timeout: float) -> int:
    """A consumer process: prints READY, then one JSON line [[id, ns], ...] once ``count`` trades came."""
    got: List[List[int]] = []
    done = threading.Event()

    def on_trade(e: bc.Trade) -> None:
        got.append([e.trade_id, time.monotonic_ns()])
        if len(got) >= count:
            done.set()

    feed = bc.RedisFeed(url, prefix=prefix)
    feed.on_trade(SYM, on_trade)
    feed.start()
    deadline = time.monotonic() + 20
    while not feed.stats()["positions"].get("btcusdt@trade", [None])[0] and time.monotonic() < deadline:
        time.sleep(0.02)
    print("READY", flush=True)
    done.wait(timeout)
    feed.stop(2)
    print(json.dumps(got), flush=True)
    return 0


def run(consumers: int, rate: float, seconds: float) -> Dict[str, object]:
    sys.path.insert(0, str(ROOT / "tests"))
    from _redis import RedisServer  # the tests' private redis-server helper

    count = int(rate * seconds)
    server = RedisServer().start()
    procs: List["subprocess.Popen[str]"] = []
    try:
        with FakeBinance(seed=3) as fake:
            cfg = fake.config_builder().with_debounce(0.0).build()
            base: Dict[int, int] = {}
            conn = bc.Connector(cfg)
            conn.on_trade(SYM, lambda e: base.__setitem__(e.trade_id, time.monotonic_ns()))
            hub = bc.Hub(cfg, server.url, streams=["btcusdt@trade"], prefix="bench")
            with conn, hub:
                assert conn.wait_ready(10) and hub.connector.wait_ready(10)
                env = dict(os.environ, PYTHONPATH=str(ROOT))
                for _ in range(consumers):
                    procs.append(subprocess.Popen(
                        [sys.executable, __file__, "--consumer", server.url, "--count", str(count)],
                        stdout=subprocess.PIPE, text=True, env=env))
                for p in procs:
                    assert p.stdout is not None and p.stdout.readline().strip() == "READY"
                sent: Dict[int, int] = {}
                t0 = time.monotonic()
                for i in range(count):
                    delay = t0 + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    ns = time.monotonic_ns()
                    sent[fake.publish_trade(SYM, "100.0", "0.5")] = ns
                results = [json.loads(p.communicate(timeout=seconds + 60)[0].strip().splitlines()[-1]) for p in procs]
                fake.wait_until(lambda: len(base) >= count, 10)
                stats = hub.stats()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        server.stop()
    ids = sorted(sent)
    warm = set(ids[:min(len(ids) // 10, int(rate))])  # the first second (at most a tenth): cold code paths
    out: Dict[str, object] = {"count": count, "rate": rate, "consumers": consumers,
                              "hub_published": stats["published"], "redis_outages": stats["redis_outages"]}
    lat = [(base[i] - sent[i]) / 1e6 for i in ids if i in base and i not in warm]
    out["baseline"] = (pct(lat, 50), pct(lat, 99), max(lat), len(lat))
    for k, got in enumerate(results):
        lat = [(ns - sent[i]) / 1e6 for i, ns in got if i in sent and i not in warm]
        out[f"consumer{k}"] = (pct(lat, 50), pct(lat, 99), max(lat), len(lat))
        out[f"consumer{k}_exact"] = [i for i, _ in got] == ids
    return out


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--consumers", type=int, default=3)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--consumer", metavar="REDIS_URL", help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.consumer:
        return consumer(args.consumer, "bench", args.count, args.seconds + 60 if args.seconds else 60)
    r = run(args.consumers, args.rate, args.seconds)
    print(f"hub [{r['consumers']} RedisFeed consumer processes, {r['rate']:.0f} trades/s, {r['count']} trades]: "
          f"exchange event -> callback latency (ms)")
    print(f"  {'':22s} {'p50':>8s} {'p99':>8s} {'max':>8s} {'events':>8s}")
    keys = ["baseline"] + [f"consumer{k}" for k in range(int(str(r["consumers"])))]
    ok = True
    for key in keys:
        p50, p99, mx, n = r[key]  # type: ignore[misc]
        label = "Connector callback" if key == "baseline" else f"{key} via hub"
        exact = "" if key == "baseline" else ("  every id once, in order" if r[f"{key}_exact"] else "  INCOMPLETE")
        ok = ok and (key == "baseline" or bool(r[f"{key}_exact"]))
        print(f"  {label:22s} {p50:8.2f} {p99:8.2f} {mx:8.2f} {n:8d}{exact}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
