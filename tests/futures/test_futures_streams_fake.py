"""Futures market streams end to end: Connector + FakeBinance(product="usdm"/"coinm") (issue 14).

USD-M streams go to ``/public`` or ``/market`` (never mixed on one connection); the fake starves a
stream on the wrong route as Binance does, so a routing mistake shows up as missing events here.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any, Callable, Iterator, List

import pytest
import websocket
from _helpers import scaled, wait_until

import binance_conn as bc
from binance_conn._core import futures_streams as fs
from binance_conn.testing import FakeBinance


class Rec:
    def __init__(self) -> None:
        self.items: List[Any] = []
        self.lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self.lock:
            self.items.append(event)

    def wait(self, pred: Callable[[List[Any]], bool], timeout: float = 5.0) -> bool:
        return wait_until(lambda: pred(list(self.items)), timeout=timeout)


@pytest.fixture
def usdm() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7, product="usdm", market_rate=0) as f:
        yield f


def _connector(fake: FakeBinance) -> bc.Connector:
    cfg = (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0)
           .with_debounce(0.0).build())
    return bc.Connector(cfg)


def _stream_records(fake: FakeBinance) -> List[dict]:
    return [r for r in fake.connection_log if r["kind"] == "stream" and r["closed_at"] is None]


def _publish_until(rec: Rec, publish: Callable[[], Any], pred: Callable[[List[Any]], bool]) -> bool:
    """Publish until ``pred`` holds (a stream subscribed by SUBSCRIBE may be live a moment after ready)."""
    def step() -> bool:
        if pred(list(rec.items)):
            return True
        publish()
        return pred(list(rec.items))
    return wait_until(step, timeout=5.0)


def test_usdm_streams_on_both_routes_deliver(usdm: FakeBinance) -> None:
    conn = _connector(usdm)
    marks, liqs, books, depth, klines, ckl, aggs = Rec(), Rec(), Rec(), Rec(), Rec(), Rec(), Rec()
    conn.on_mark_price("BTCUSDT", marks)
    conn.on_liquidation("BTCUSDT", liqs)
    conn.on_book_ticker("BTCUSDT", books)
    conn.on_depth("BTCUSDT", depth)
    conn.on_kline("BTCUSDT", "1m", klines)
    conn.on_continuous_kline("BTCUSDT", "perpetual", "1m", ckl)
    conn.on_agg_trade("BTCUSDT", aggs)
    try:
        conn.start()
        assert conn.wait_ready(scaled(10))
        assert _publish_until(marks, lambda: usdm.publish_mark_price("BTCUSDT", "30000.5", "30001",
                                                                    funding_rate="-0.0001"), bool)
        m = marks.items[0]
        assert isinstance(m, bc.MarkPrice) and m.symbol == "BTCUSDT" and m.mark_price == Decimal("30000.5")
        assert m.index_price == Decimal("30001") and m.funding_rate == Decimal("-0.0001")
        assert _publish_until(liqs, lambda: usdm.publish_liquidation("BTCUSDT", "SELL", "29000", "0.5"), bool)
        liq = liqs.items[0]
        assert isinstance(liq, bc.Liquidation) and liq.side == "SELL" and liq.quantity == Decimal("0.5")
        assert _publish_until(ckl, lambda: usdm.publish_continuous_kline("BTCUSDT", "perpetual", "1m", 1, 2, 1, 2),
                              bool)
        assert isinstance(ckl.items[0], bc.ContinuousKline) and ckl.items[0].contract_type == "PERPETUAL"
        assert _publish_until(depth, lambda: usdm.publish_futures_depth("BTCUSDT", 10, 12, 9, bids=[("1", "2")]),
                              bool)
        d = depth.items[0]
        assert d.previous_update_id == 9 and d.final_update_id == 12 and d.transaction_time is not None
        assert _publish_until(books, lambda: usdm.publish_book_ticker("BTCUSDT"), bool)
        assert _publish_until(aggs, lambda: usdm.publish_trade("BTCUSDT", "30000", "1"), bool)
        assert _publish_until(klines, lambda: usdm.publish_trade("BTCUSDT", "30000", "1"), bool)
        shards = conn.stats()["market"]["connections"]
        assert sorted(c["route"] for c in shards) == ["market", "public"]
        # the library never mixed routes: every connection carries streams of its path's route only
        records = _stream_records(usdm)
        paths = {r["path"].split("?")[0] for r in records}
        assert paths == {"/public/stream", "/market/stream"}
        for r in records:
            route = r["path"].split("/")[1]
            assert r["streams"] and all(fs.route_of(s) == route for s in r["streams"]), r
    finally:
        conn.stop(timeout=2.0)


def test_fake_starves_a_stream_on_the_wrong_route(usdm: FakeBinance) -> None:
    """The fake behaves as Binance: handshake and SUBSCRIBE ack, then nothing on the wrong route."""
    base = usdm.ws_url
    wrong = websocket.create_connection(base + "/public/stream?streams=btcusdt@markPrice", timeout=5)
    legacy = websocket.create_connection(base + "/ws/btcusdt@markPrice", timeout=5)
    right = websocket.create_connection(base + "/market/stream?streams=btcusdt@markPrice", timeout=5)
    try:
        wrong.send('{"method":"SUBSCRIBE","params":["btcusdt@forceOrder"],"id":1}')
        assert '"result"' in wrong.recv()  # acknowledged, as Binance does
        assert wait_until(lambda: usdm.open_connections("stream") >= 3)
        n = usdm.publish("btcusdt@markPrice", {"e": "markPriceUpdate", "E": 1, "s": "BTCUSDT", "p": "1", "i": "1",
                                                 "P": "1", "r": "0", "T": 2})
        assert n == 1  # only the /market connection got it
        assert "markPriceUpdate" in right.recv()
        assert usdm.publish("btcusdt@forceOrder", {"e": "forceOrder"}) == 0
    finally:
        for ws in (wrong, legacy, right):
            ws.close()


def test_legacy_unrouted_path_still_serves_public_streams(usdm: FakeBinance) -> None:
    legacy = websocket.create_connection(usdm.ws_url + "/ws/btcusdt@depth", timeout=5)
    try:
        assert wait_until(lambda: usdm.open_connections("stream") >= 1)
        assert usdm.publish("btcusdt@depth", {"e": "depthUpdate"}) == 1
    finally:
        legacy.close()


def test_coinm_uses_plain_stream_path() -> None:
    with FakeBinance(seed=7, product="coinm", market_rate=0, symbols=["BTCUSD_PERP"]) as fake:
        conn = _connector(fake)
        marks, aggs = Rec(), Rec()
        conn.on_mark_price("BTCUSD_PERP", marks)
        conn.on_agg_trade("BTCUSD_PERP", aggs)  # a spot-shaped on_* with a COIN-M symbol
        try:
            conn.start()
            assert conn.wait_ready(scaled(10))
            assert _publish_until(marks, lambda: fake.publish_mark_price("BTCUSD_PERP", "60000"), bool)
            assert marks.items[0].symbol == "BTCUSD_PERP"
            assert _publish_until(aggs, lambda: fake.publish_trade("BTCUSD_PERP", "60000", "1"), bool)
            assert aggs.items[0].symbol == "BTCUSD_PERP"
            assert {r["path"].split("?")[0] for r in _stream_records(fake)} == {"/stream"}
        finally:
            conn.stop(timeout=2.0)


def test_product_refusals(usdm: FakeBinance) -> None:
    fut = _connector(usdm)
    with pytest.raises(bc.ValidationError) as e:
        fut.on_avg_price("BTCUSDT", lambda ev: None)
    assert e.value.field == "stream"
    for call in (lambda: fut.on_reference_price("BTCUSDT", print), lambda: fut.on_rolling_ticker("BTCUSDT", "1h"),
                 lambda: fut.on_kline("BTCUSDT", "1m", print, timezone="+08:00"),
                 lambda: fut.on_stream("btcusdt@avgPrice", print)):
        with pytest.raises(bc.ValidationError):
            call()
    spot = bc.Connector(bc.Config.builder().build())
    for call in (lambda: spot.on_mark_price("BTCUSDT", print), lambda: spot.on_liquidation("BTCUSDT", print),
                 lambda: spot.on_stream("btcusdt@markPrice", print), lambda: spot.on_contract_info(print)):
        with pytest.raises(bc.ValidationError):
            call()
    assert fut.on_stream("btcusdt@markPrice@1s", print) is not None  # futures names are fine on futures


def test_fake_futures_incoming_limit_is_ten() -> None:
    with FakeBinance(seed=7, product="usdm", market_rate=0) as fake:
        assert fake.max_incoming_per_second == 10
        assert (fake.ping_interval, fake.pong_timeout) == (180.0, 600.0)  # server ping every 3 min
    with FakeBinance(seed=7, market_rate=0) as fake:
        assert fake.max_incoming_per_second == 5


def test_coinm_symbols_on_spot_shaped_methods() -> None:
    conn = bc.Connector(bc.Config.builder().with_exchange("binance-coinm").build())
    conn.on_kline("BTCUSD_PERP", "1m", print)
    conn.on_depth("btcusd_200626", print)
    conn.on_book_ticker(["BTCUSD_PERP", "ETHUSD_PERP"], print)
    assert set(conn._market.registry.streams()) == {
        "btcusd_perp@kline_1m", "btcusd_200626@depth@100ms", "btcusd_perp@bookTicker", "ethusd_perp@bookTicker"}
    with pytest.raises(bc.ValidationError):
        conn.on_trade("_BTCUSD", print)
    assert conn._rest_path("/api/v3/aggTrades") == "/dapi/v1/aggTrades"  # activity probe and backfill
    spot = bc.Connector(bc.Config.builder().build())
    with pytest.raises(bc.ValidationError) as e:
        spot.on_trade("BTC_USDT", print)  # spot symbols have no "_": unchanged
    assert e.value.field == "symbol"


def test_futures_depth_gaps_follow_pu(usdm: FakeBinance) -> None:
    """Futures ``U`` is not contiguous: continuity is ``pu == previous u`` (no false gaps, real ones seen)."""
    conn = _connector(usdm)
    depth, gaps = Rec(), Rec()
    conn.on_depth("BTCUSDT", depth)
    conn.on_gap(gaps)
    try:
        conn.start()
        assert conn.wait_ready(scaled(10))
        assert _publish_until(depth, lambda: usdm.publish_futures_depth("BTCUSDT", 100, 110, 90), bool)
        last = depth.items[-1].final_update_id
        usdm.publish_futures_depth("BTCUSDT", last + 50, last + 60, last)  # U jumps, pu continues: in order
        usdm.publish_futures_depth("BTCUSDT", last + 70, last + 80, last + 60)
        assert depth.wait(lambda items: items[-1].final_update_id == last + 80)
        assert gaps.items == []
        usdm.publish_futures_depth("BTCUSDT", last + 90, last + 95, last + 85)  # pu != previous u: a gap
        assert gaps.wait(lambda items: len(items) >= 1)
        g = gaps.items[0]
        assert g.kind == "depth" and g.stream == "btcusdt@depth@100ms" and g.state == bc.GapState.OPEN
        assert (g.first_missing, g.last_missing) == (last + 81, last + 89)
    finally:
        conn.stop(timeout=2.0)
