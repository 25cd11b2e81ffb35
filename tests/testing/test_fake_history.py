"""The fake's trade history is what it published: historicalTrades / aggTrades / klines answer exactly
the ids and values of @trade / @aggTrade / @kline, within a bounded history; the steady trade generator
keeps its rate and keeps publishing whatever happens to the connections."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Dict, Iterator, List

import pytest
import requests
import websocket
from _helpers import wait_until
from fakecollect import Collector
from fakehelpers import scaled

from binance_conn.testing import FakeBinance


def get(fake: FakeBinance, path: str, **params: Any) -> Any:
    r = requests.get(fake.rest_url + path, params=params, timeout=scaled(5))
    assert r.status_code == 200, r.text
    return r.json()


def page_all(fake: FakeBinance, path: str, first: int, last: int, key: str) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    nxt = first
    while nxt <= last:
        rows = get(fake, path, symbol="BTCUSDT", fromId=nxt, limit=1000)
        assert rows, nxt
        out += [r for r in rows if r[key] <= last]
        nxt = rows[-1][key] + 1
    return out


@pytest.fixture
def gen() -> Iterator[FakeBinance]:
    with FakeBinance(["BTCUSDT"], seed=1) as f:
        yield f


def test_history_endpoints_return_exactly_the_published_trades(gen: FakeBinance) -> None:
    col = Collector(gen, ["btcusdt@trade", "btcusdt@aggTrade", "btcusdt@kline_1s"])
    try:
        gen.start_trades("BTCUSDT", rate=1000, seed=2)
        assert wait_until(lambda: len(col.get("btcusdt@trade")) >= 2500, timeout=15)
        gen.stop_trades("BTCUSDT")
        n = gen.published_trade_ids("BTCUSDT")[-1]
        assert wait_until(lambda: col.get("btcusdt@trade")[-1]["t"] == n and col.get("btcusdt@aggTrade")[-1]["a"] == n)
        trades, aggs = col.get("btcusdt@trade"), col.get("btcusdt@aggTrade")
        assert [t["t"] for t in trades] == list(gen.published_trade_ids("BTCUSDT"))
        hist = page_all(gen, "/api/v3/historicalTrades", 1, n, "id")
        assert [(h["id"], h["price"], h["qty"], h["time"], h["isBuyerMaker"]) for h in hist] == \
            [(t["t"], t["p"], t["q"], t["T"], t["m"]) for t in trades]
        agg = page_all(gen, "/api/v3/aggTrades", 1, n, "a")
        assert [(a["a"], a["p"], a["q"], a["f"], a["l"], a["T"], a["m"]) for a in agg] == \
            [(a["a"], a["p"], a["q"], a["f"], a["l"], a["T"], a["m"]) for a in aggs]
        t_mid = trades[len(trades) // 2]["T"]
        by_time = get(gen, "/api/v3/aggTrades", symbol="BTCUSDT", startTime=t_mid, limit=1000)
        assert by_time[0]["T"] >= t_mid and [a["a"] for a in by_time] == list(
            range(by_time[0]["a"], by_time[0]["a"] + len(by_time)))
        assert [a["a"] for a in by_time] == [a["a"] for a in aggs if a["T"] >= t_mid][:1000]
        closed = {k["k"]["t"]: k["k"] for k in col.get("btcusdt@kline_1s") if k["k"]["x"]}
        assert closed
        rows = get(gen, "/api/v3/klines", symbol="BTCUSDT", interval="1s", startTime=min(closed), limit=1000)
        rest = {r[0]: r for r in rows}
        for t, k in closed.items():
            assert rest[t][1:6] == [k["o"], k["h"], k["l"], k["c"], k["v"]] and rest[t][8] == k["n"], t
    finally:
        col.close()


def test_history_is_bounded_and_older_ids_are_gone() -> None:
    with FakeBinance(["BTCUSDT"], trade_history=50) as fake:
        for i in range(120):
            fake.publish_trade("BTCUSDT", "60000.00", f"0.{i + 1:03d}")
        assert fake.published_trade_ids("BTCUSDT") == range(1, 121)
        assert fake.kept_trade_ids("BTCUSDT") == range(71, 121)
        rows = get(fake, "/api/v3/historicalTrades", symbol="BTCUSDT", fromId=1, limit=10)
        assert [r["id"] for r in rows] == list(range(71, 81))  # starts at the oldest kept trade
        rows = get(fake, "/api/v3/historicalTrades", symbol="BTCUSDT", fromId=100, limit=5)
        assert [r["id"] for r in rows] == [100, 101, 102, 103, 104] and rows[0]["qty"] == "0.10000000"
        assert [r["a"] for r in get(fake, "/api/v3/aggTrades", symbol="BTCUSDT", fromId=115)] == list(range(115, 121))
        assert [r["id"] for r in get(fake, "/api/v3/historicalTrades", symbol="BTCUSDT", limit=3)] == [118, 119, 120]
        assert get(fake, "/api/v3/historicalTrades", symbol="BTCUSDT", fromId=500) == []


def test_klines_rest_does_not_swallow_the_closing_event(gen: FakeBinance) -> None:
    col = Collector(gen, ["btcusdt@kline_1s"])
    try:
        gen.publish_trade("BTCUSDT", "60000.00", "1")
        t0 = gen.now_ms() // 1000 * 1000
        assert wait_until(lambda: gen.now_ms() >= t0 + 2000, timeout=4)
        get(gen, "/api/v3/klines", symbol="BTCUSDT", interval="1s", limit=3)  # must not roll the candle over
        gen.publish_trade("BTCUSDT", "60001.00", "1")
        assert wait_until(lambda: any(k["k"]["x"] for k in col.get("btcusdt@kline_1s")))
        closed = [k["k"] for k in col.get("btcusdt@kline_1s") if k["k"]["x"]]
        assert [k["t"] for k in closed] == [t0] and closed[0]["c"] == "60000.00000000"
        rows = get(gen, "/api/v3/klines", symbol="BTCUSDT", interval="1s", startTime=t0, limit=3)
        assert rows[0][0] == t0 and rows[0][8] == 1 and rows[0][4] == "60000.00000000"
        empty = rows[1]  # no trade in that second: an empty candle at the previous close
        assert empty[0] == t0 + 1000 and empty[8] == 0 and Decimal(empty[5]) == 0 and empty[1] == empty[4] == rows[0][4]
    finally:
        col.close()


@pytest.mark.parametrize("rate", [pytest.param(200, marks=pytest.mark.soak), 2000])
def test_generator_rate(gen: FakeBinance, rate: int) -> None:
    gen.start_trades("BTCUSDT", rate=rate)
    start_ids = len(gen.published_trade_ids("BTCUSDT"))
    t0 = time.monotonic()
    time.sleep(2.0)
    n = len(gen.published_trade_ids("BTCUSDT")) - start_ids
    elapsed = time.monotonic() - t0
    gen.stop_trades()
    assert 0.8 * rate * elapsed <= n <= 1.1 * rate * elapsed, (n, elapsed)


def test_generator_keeps_publishing_through_every_fault() -> None:
    with FakeBinance(["BTCUSDT"], seed=3) as fake:
        col = Collector(fake, ["btcusdt@trade"])
        fake.start_trades("BTCUSDT", rate=500)

        def grows() -> bool:
            n = len(fake.published_trade_ids("BTCUSDT"))
            return wait_until(lambda: len(fake.published_trade_ids("BTCUSDT")) >= n + 50, timeout=3)

        try:
            assert wait_until(lambda: len(col.get("btcusdt@trade")) > 50)
            fake.freeze()
            assert grows()
            fake.resume()
            fake.send_server_shutdown()
            assert grows()
            fake.set_max_lifetime(0.2)
            assert grows()
            fake.set_max_lifetime(3600)
            fake.drop_connections()
            assert grows()
            fake.close_connections()
            fake.refuse_handshakes(0.5)
            assert grows()
            fake.throttle_handshakes(0.5, retry_after=7)
            with pytest.raises(websocket.WebSocketBadStatusException) as exc:
                websocket.create_connection(fake.ws_url + "/ws/btcusdt@trade", timeout=scaled(5))
            assert exc.value.status_code == 429
            assert (exc.value.resp_headers or {}).get("retry-after") == "7"
            assert grows()
            assert [h["status"] for h in fake.handshake_log][-1] == 429
        finally:
            fake.stop_trades()
            col.close()
        ids = fake.published_trade_ids("BTCUSDT")
        assert fake.kept_trade_ids("BTCUSDT") == ids  # all of them still served by REST
        got = [t["t"] for t in col.get("btcusdt@trade")]
        assert got == sorted(got) and set(got) < set(ids)


def test_trade_ids_and_prices_are_decimal_strings(gen: FakeBinance) -> None:
    gen.start_trades("BTCUSDT", rate=200, seed=1)
    assert wait_until(lambda: len(gen.published_trade_ids("BTCUSDT")) >= 10)
    gen.stop_trades()
    rows = get(gen, "/api/v3/historicalTrades", symbol="BTCUSDT", fromId=1, limit=10)
    bid, ask = gen.best_prices("BTCUSDT")
    assert all(Decimal(r["price"]) in (bid, ask) for r in rows)
