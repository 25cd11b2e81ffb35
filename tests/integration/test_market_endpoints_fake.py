"""Market-data typed methods against FakeBinance, over REST (``conn.rest``) and the WebSocket API
(``conn.ws_api``): one method, both transports, the same answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from _helpers import scaled

import binance_conn as bc
from binance_conn.testing import FakeBinance

T0 = 1_800_000_030_000  # pinned server clock (30 s into a minute): both transports see the same market


@pytest.fixture(scope="module")
def market() -> Iterator[Tuple[FakeBinance, bc.Connector, List[int]]]:
    with FakeBinance(seed=11) as fake:
        fake.set_clock(T0)
        ids = [fake.publish_trade("BTCUSDT", p, q, buyer_maker=bm, trade_time=T0 - 1000 + i)
               for i, (p, q, bm) in enumerate([("60000.00", "0.01", False), ("60010.50", "0.25", True),
                                                ("59990.25", "1.5", False)])]
        conn = bc.Connector(fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).build())
        with conn:
            yield fake, conn, ids


@pytest.fixture(params=["rest", "ws_api"])
def api(request: Any, market: Tuple[FakeBinance, bc.Connector, List[int]]) -> Any:
    return getattr(market[1], request.param)


def _no_float(obj: Any) -> None:
    assert not isinstance(obj, float), obj
    for v in obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ():
        _no_float(v)


def test_trades_recent_and_historical(api: Any, market: Tuple[FakeBinance, bc.Connector, List[int]]) -> None:
    _fake, _conn, ids = market
    recent = api.trades("BTCUSDT", limit=2, timeout=scaled(5))
    assert [t["id"] for t in recent] == ids[1:]
    assert recent[-1]["price"] == Decimal("59990.25") and recent[-1]["qty"] == Decimal("1.5")
    assert recent[-1]["quoteQty"] == Decimal("59990.25") * Decimal("1.5")
    older = api.historical_trades("BTCUSDT", from_id=ids[0], limit=1, timeout=scaled(5))
    assert [t["id"] for t in older] == ids[:1] and older[0]["isBuyerMaker"] is False
    assert api.historical_block_trades("BTCUSDT", 1, timeout=scaled(5)) == []
    _no_float(recent)


def test_agg_trades_by_id_and_time(api: Any, market: Tuple[FakeBinance, bc.Connector, List[int]]) -> None:
    aggs = api.agg_trades("BTCUSDT", limit=10, timeout=scaled(5))
    assert [a["p"] for a in aggs] == [Decimal("60000.00"), Decimal("60010.50"), Decimal("59990.25")]
    assert set(aggs[0]) == {"a", "p", "q", "f", "l", "T", "m", "M"}
    first = aggs[0]["a"]
    assert [a["a"] for a in api.agg_trades("BTCUSDT", from_id=first + 1, limit=1, timeout=scaled(5))] == [first + 1]
    window = api.agg_trades("BTCUSDT", start_time=T0 - 999, end_time=T0 - 998, timeout=scaled(5))
    assert [a["q"] for a in window] == [Decimal("0.25"), Decimal("1.5")]
    with pytest.raises(bc.ValidationError):
        api.agg_trades("BTCUSDT", from_id=1, end_time=T0)


def test_klines_and_ui_klines(api: Any) -> None:
    rows = api.klines("BTCUSDT", "1m", limit=3, timeout=scaled(5))
    assert len(rows) == 3 and [r[0] for r in rows] == sorted(r[0] for r in rows)
    last = rows[-1]
    assert last[0] == T0 // 60_000 * 60_000 and last[6] == last[0] + 59_999
    assert last[4] == Decimal("59990.25") and last[5] == Decimal("0.01") + Decimal("0.25") + Decimal("1.5")
    assert last[8] == 3 and all(isinstance(last[i], Decimal) for i in (1, 2, 3, 4, 5, 7, 9, 10))
    start = T0 - 10 * 60_000
    forward = api.ui_klines("BTCUSDT", "1m", start_time=start, limit=2, timeout=scaled(5))
    first = (start // 60_000 + 1) * 60_000  # the first kline opening at or after start_time
    assert [r[0] for r in forward] == [first, first + 60_000]
    with pytest.raises(bc.ValidationError):
        api.klines("BTCUSDT", "1H")
    _no_float(rows)


def test_avg_price_and_tickers(api: Any) -> None:
    avg = api.avg_price("BTCUSDT", timeout=scaled(5))
    assert avg == {"mins": 5, "price": Decimal("59990.25"), "closeTime": T0}
    one = api.ticker_24hr("BTCUSDT", timeout=scaled(5))
    assert one["symbol"] == "BTCUSDT" and one["lastPrice"] == Decimal("59990.25") and one["count"] == 3
    assert one["highPrice"] == Decimal("60010.50") and isinstance(one["bidPrice"], Decimal)
    many = api.ticker_24hr(symbols=["BTCUSDT", "ethusdt"], type="MINI", timeout=scaled(5))
    assert [t["symbol"] for t in many] == ["BTCUSDT", "ETHUSDT"] and "priceChange" not in many[0]
    day = api.trading_day_ticker("BTCUSDT", timeout=scaled(5))
    assert day["openTime"] == T0 // 86_400_000 * 86_400_000 and day["volume"] == Decimal("1.76")
    rolling = api.rolling_ticker(symbols=["BTCUSDT"], window_size="2h", timeout=scaled(5))
    assert rolling[0]["openTime"] == (T0 - 7_200_000) // 60_000 * 60_000
    assert api.ticker_price("BTCUSDT", timeout=scaled(5)) == Decimal("59990.25")
    prices: Dict[str, Decimal] = api.ticker_prices(timeout=scaled(5))
    assert prices["BTCUSDT"] == Decimal("59990.25") and len(prices) >= 2
    book = api.book_ticker("BTCUSDT", timeout=scaled(5))
    assert book["bidPrice"] < book["askPrice"] and isinstance(book["askQty"], Decimal)
    assert api.reference_price("BTCUSDT", timeout=scaled(5))["referencePrice"] == Decimal("59990.25")
    calc = api.reference_price_calculation("BTCUSDT", timeout=scaled(5))
    assert calc["calculationType"] == "ARITHMETIC_MEAN"
    rules = api.execution_rules(symbols=["BTCUSDT"], timeout=scaled(5))
    assert rules["symbolRules"][0]["rules"][0]["bidLimitMultUp"] == Decimal("1.0001")
    for answer in (one, many, day, rolling, book):
        _no_float(answer)


def test_general_endpoints(api: Any) -> None:
    assert api.ping(timeout=scaled(5)) is None
    assert api.server_time(timeout=scaled(5)) == T0
    info = api.exchange_info(symbols=["BTCUSDT", "ETHUSDT"], timeout=scaled(5))
    assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
    book = api.depth("BTCUSDT", 5, timeout=scaled(5))
    assert len(book["bids"]) == 5 and all(isinstance(v, Decimal) for lvl in book["asks"] for v in lvl)


def test_fake_charges_the_documented_weight_on_both_transports(market: Tuple[FakeBinance, bc.Connector,
                                                                              List[int]]) -> None:
    fake, conn, _ids = market
    for api in (conn.rest, conn.ws_api):
        fake.reset_limits()
        api.rolling_ticker(symbols=["BTCUSDT", "ETHUSDT"], timeout=scaled(5))  # 4 per symbol
        api.trading_day_ticker("BTCUSDT", timeout=scaled(5))  # 4
        api.depth("BTCUSDT", 500, timeout=scaled(5))  # 25
        assert fake.weights.used() == 8 + 4 + 25, type(api).__name__


def test_fake_rejects_what_binance_rejects(market: Tuple[FakeBinance, bc.Connector, List[int]]) -> None:
    _fake, conn, _ids = market
    for api in (conn.rest, conn.ws_api):
        with pytest.raises(bc.BinanceError) as info:
            api.rolling_ticker("BTCUSDT", symbol_status="HALT", timeout=scaled(5))
        assert info.value.binance_code == -1220
        with pytest.raises(bc.NotFoundError):
            api.avg_price("NOPEUSDT", timeout=scaled(5))
