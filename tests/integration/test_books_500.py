"""Many books at once (issue 13, "Done when"): N symbols subscribed with ``on_book`` in one go against a
fake whose REST weight limit is Binance's (6000 per minute, 429 past it).  Every book reaches SYNCED,
the fake answers no 429, and the weight spent is exactly what snapshot sizing predicts (depth 20 ->
``limit=100`` snapshots, weight 5 each).  Then a resync storm: every connection dropped once all books
are SYNCED; all resync, still without a 429, paced by the same budget (``weight_share`` of it: with the
default 0.5, 500 symbols need a second weight window for the storm).

The normal suite runs 100 symbols, and 500 with ``weight_share=0.9`` (both snapshot waves fit one
window: a few seconds); 500 at the default share (the storm waits up to a minute for the next window)
is ``@pytest.mark.soak``.
"""

from __future__ import annotations

import time
from typing import List

import pytest
from _connector_helpers import FakeBinance, fast_builder, wait_until

import binance_conn as bc
from binance_conn._core.book import snapshot_limit_for, snapshot_weight

DEPTH = 20


def _symbols(n: int) -> List[str]:
    return [f"S{i:03d}USDT" for i in range(n)]


def _all_synced(conn: bc.Connector, fake: FakeBinance, symbols: List[str], nudge: List[float]) -> bool:
    """Every book SYNCED; else (every 0.3 s) one empty diff for each book still syncing (a book syncs on a diff)."""
    pending = [s for s in symbols if not ((b := conn.book(s)) is not None and b.is_synced)]
    now = time.monotonic()
    if pending and now - nudge[0] > 0.3:
        nudge[0] = now
        for s in pending:
            fake.publish_depth(s)
    return not pending


def run_many(n: int, timeout: float, share: float = 0.5) -> None:
    symbols = _symbols(n)
    weight = snapshot_weight(snapshot_limit_for(DEPTH))
    with FakeBinance(symbols, seed=3, weight_limit=6000) as fake:
        conn = bc.Connector(fast_builder(fake).with_order_book(fetchers=4, weight_share=share).build())
        t0 = time.monotonic()
        conn.on_book(symbols, lambda b: None, depth=DEPTH)  # all at once
        conn.start()
        try:
            nudge = [0.0]
            assert wait_until(lambda: _all_synced(conn, fake, symbols, nudge), timeout, interval=0.05), \
                (conn.stats()["books"]["synced"], conn.stats()["books"]["pending_snapshots"])
            t_sync = time.monotonic() - t0
            st = conn.stats()["books"]
            assert st["snapshots"] == n and st["weight_used"] == n * weight, st["weight_used"]
            first_weight = st["weight_used"]

            # the resync storm: every link dropped at once
            t1 = time.monotonic()
            fake.drop_connections()
            assert wait_until(lambda: conn.stats()["books"]["resyncs"] >= n, 10), conn.stats()["books"]["resyncs"]
            assert wait_until(lambda: _all_synced(conn, fake, symbols, nudge), timeout, interval=0.05), \
                (conn.stats()["books"]["synced"], conn.stats()["books"]["pending_snapshots"])
            t_storm = time.monotonic() - t1
            st = conn.stats()["books"]
        finally:
            assert conn.stop()
        too_much = [r for r in fake.request_log if r["status"] in (418, 429)]
        depth_calls = [r for r in fake.request_log if r["path"] == "/api/v3/depth"]
    print(f"\n{n} books: SYNCED in {t_sync:.1f}s, snapshot weight {first_weight} ({n} x {weight}); storm resynced in "
          f"{t_storm:.1f}s; total snapshot weight {st['weight_used']} over {st['snapshots']} snapshots; "
          f"limiter waits {st['rate_limited']}; fake 429/418: {len(too_much)}")
    assert not too_much, too_much[:3]
    assert st["snapshots"] == 2 * n == len(depth_calls) and st["weight_used"] == 2 * n * weight
    assert st["internal_errors"] == 0


def test_100_books_start_and_resync_storm_without_a_429(no_conn_threads: None) -> None:
    run_many(100, 30)


@pytest.mark.soak  # 4 s; the 100-book run above stays in make test
def test_500_books_start_and_resync_storm_with_a_large_share(no_conn_threads: None) -> None:
    """Snapshots may use 90% of the budget: 2 x 500 x 5 = 5000 <= 5400 fits one window, no waiting."""
    run_many(500, 30, share=0.9)


@pytest.mark.soak
def test_500_books_start_and_resync_storm_without_a_429(no_conn_threads: None) -> None:
    """The default share (50%: 3000 a minute): the storm's last snapshots wait for the next weight window."""
    run_many(500, 150)
