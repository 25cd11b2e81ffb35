"""``python -m binance_conn.demo --record PATH``: the demo session is recorded; replayed into a
second connector subscribed as the demo is, it gives as many trades, tickers and book tickers."""

from __future__ import annotations

import io
import pathlib

from _helpers import scaled
from _rec_helpers import Events, fast_builder

import binance_conn as bc
from binance_conn import demo
from binance_conn._io.recorder import recording_files
from binance_conn.testing import FakeBinance

SYM = "BTCUSDT"


def test_demo_record_then_replay(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "demo.jsonl.gz")
    out = io.StringIO()
    summary = demo.run(demo._parse_args(["--duration", "2", "--rate", "20", "--symbols", SYM, "--record", path]), out)
    assert f"recording to {path}" in out.getvalue() and "(0 dropped)" in out.getvalue()
    assert recording_files(path) == [path] and summary.counts["trade"] > 0
    with FakeBinance([SYM]) as fake:
        conn = bc.Connector(fast_builder(fake).build())
        ev = {k: Events() for k in ("trade", "ticker", "book_ticker")}
        conn.on_trade(SYM, ev["trade"], backfill=True)
        conn.on_ticker(SYM, ev["ticker"])
        conn.on_book_ticker(SYM, ev["book_ticker"])
        replay = fake.replay(path, speed=None)
        try:
            conn.start()
            assert replay.wait(scaled(20)) and replay.missed == 0 and replay.unwanted == 0, replay
            for kind in ev:
                assert ev[kind].wait_count(summary.counts[kind]), kind
        finally:
            assert conn.stop(5.0)
    assert {k: len(v.snapshot()) for k, v in ev.items()} == {k: summary.counts[k] for k in ev}
