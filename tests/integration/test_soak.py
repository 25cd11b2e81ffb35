"""Long chaos run (``make soak``; excluded from ``make test``).

For ``SOAK_SECONDS`` (default 120) the fake exchange publishes trades continuously while
random faults hit the connector every second or two: abrupt drops, clean closes, frozen
(half-open) links, refused handshakes, server-shutdown rollovers and malformed frames.
After every fault the connector must be ready again within a bound, trades must keep
arriving, no trade id may be delivered twice, and threads and memory must not grow.
"""

from __future__ import annotations

import os
import random
import threading
import time
import tracemalloc
from typing import Callable, Dict, List

import pytest
from _connector_helpers import FakeBinance, conn_threads, fast_builder, wait_until

import binance_conn as bc

pytestmark = pytest.mark.soak

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))


def test_chaos_soak() -> None:
    rng = random.Random(int(os.environ.get("SOAK_SEED", "1")))
    with FakeBinance(seed=3) as fake:
        conn = bc.Connector(fast_builder(fake).build())
        seen: Dict[int, int] = {}
        lock = threading.Lock()
        dupes: List[int] = []

        def on_trade(t: bc.Trade) -> None:
            with lock:
                if t.trade_id in seen:
                    dupes.append(t.trade_id)
                seen[t.trade_id] = 1

        conn.on_trade("BTCUSDT", on_trade)
        stop_pub = threading.Event()

        def publisher() -> None:
            price = 50000
            while not stop_pub.wait(0.005):
                price += rng.choice((-1, 1))
                fake.publish_trade("BTCUSDT", str(price), "0.01")

        faults: Dict[str, Callable[[], object]] = {
            "drop": fake.drop_connections,
            "close": fake.close_connections,
            "freeze": fake.freeze,
            "refuse": lambda: fake.refuse_handshakes(rng.uniform(0.2, 1.5)),
            "shutdown": fake.send_server_shutdown,
            "malformed": fake.send_malformed,
        }
        with conn:
            assert conn.wait_ready(10)
            pub = threading.Thread(target=publisher, daemon=True)
            pub.start()
            tracemalloc.start()
            baseline_threads = len(conn_threads())
            baseline_mem = tracemalloc.get_traced_memory()[0]
            counts: Dict[str, int] = {}
            deadline = time.monotonic() + SOAK_SECONDS
            try:
                while time.monotonic() < deadline:
                    name = rng.choice(sorted(faults))
                    faults[name]()
                    counts[name] = counts.get(name, 0) + 1
                    if name == "freeze":
                        time.sleep(rng.uniform(0.5, 2.0))  # chaos pacing: the fault lasts a while
                        fake.resume()
                    n = len(seen)
                    assert conn.wait_ready(15), f"not ready again after {name}"
                    assert wait_until(lambda n=n: len(seen) > n, timeout=10), f"trades stopped after {name}"
                    time.sleep(rng.uniform(0.2, 1.0))  # chaos pacing between faults
            finally:
                stop_pub.set()
                pub.join(5)
            grown = tracemalloc.get_traced_memory()[0] - baseline_mem
            tracemalloc.stop()
            assert not dupes, f"duplicate trade ids delivered: {dupes[:10]}"
            assert len(conn_threads()) <= baseline_threads + 2, [t.name for t in conn_threads()]
            assert grown < 20 * 1024 * 1024, f"memory grew by {grown} bytes"
            print(f"soak: {sum(counts.values())} faults {counts}, {len(seen)} trades, memory +{grown} B")
        assert not conn_threads()
