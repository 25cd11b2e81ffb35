"""The typed account methods against FakeBinance, over REST (``conn.rest``) and the WebSocket API
(``conn.ws_api``): the same answers, in the documented shapes, with Decimals."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Iterator, List

import pytest
from _connector_helpers import FakeBinance, fast_builder, no_conn_threads, wait_until

import binance_conn as bc

__all__ = ["no_conn_threads"]

ORDER_KEYS = {"symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty", "executedQty",
              "cummulativeQuoteQty", "status", "timeInForce", "type", "side", "stopPrice", "icebergQty", "time",
              "updateTime", "isWorking", "workingTime", "origQuoteOrderQty", "selfTradePreventionMode"}
TRADE_KEYS = {"symbol", "id", "orderId", "orderListId", "price", "qty", "quoteQty", "commission", "commissionAsset",
              "time", "isBuyer", "isMaker", "isBestMatch"}


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=5, market_rate=0.0) as f:
        yield f


@pytest.fixture
def conn(fake: FakeBinance, no_conn_threads: None) -> Iterator[bc.Connector]:
    c = bc.Connector(fast_builder(fake).build())
    with c:
        yield c


def _setup_orders(fake: FakeBinance, conn: bc.Connector) -> List[int]:
    """Two resting BUYs on BTCUSDT (one then half filled), one on ETHUSDT if listed."""
    a = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC",
                            client_order_id="acct-a")
    b = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="2", price="101", time_in_force="GTC",
                            client_order_id="acct-b")
    fake.fill_order("BTCUSDT", a["orderId"], "0.5")
    return [int(a["orderId"]), int(b["orderId"])]


def _decimals_only(rows: List[Any], keys: List[str]) -> bool:
    return all(isinstance(r[k], Decimal) for r in rows for k in keys)


@pytest.mark.parametrize("via", ["rest", "ws_api"])
def test_account_queries(fake: FakeBinance, conn: bc.Connector, via: str) -> None:
    ids = _setup_orders(fake, conn)
    api = getattr(conn, via)

    acct = api.account()
    assert acct["accountType"] == "SPOT" and acct["commissionRates"]["maker"] == Decimal("0.001")
    assert _decimals_only(acct["balances"], ["free", "locked"])
    usdt = next(b for b in acct["balances"] if b["asset"] == "USDT")
    assert usdt["locked"] == Decimal("0.5") * 100 + 2 * 101  # the unfilled rests of both orders
    nonzero = api.account(omit_zero_balances=True)["balances"]
    assert all(b["free"] or b["locked"] for b in nonzero)

    opened = api.open_orders("btcusdt")
    assert [o["orderId"] for o in opened] == ids and set(opened[0]) == ORDER_KEYS
    assert _decimals_only(opened, ["price", "origQty", "executedQty", "cummulativeQuoteQty"])
    assert opened[0]["executedQty"] == Decimal("0.5")
    assert [o["orderId"] for o in api.open_orders()] == ids  # every symbol (weight 80)

    assert api.get_order("BTCUSDT", client_order_id="acct-b")["orderId"] == ids[1]
    everything = api.all_orders("BTCUSDT")
    assert [o["orderId"] for o in everything] == ids
    assert [o["orderId"] for o in api.all_orders("BTCUSDT", order_id=ids[1])] == ids[1:]
    assert [o["orderId"] for o in api.all_orders("BTCUSDT", limit=1)] == ids[-1:]  # the most recent

    trades = api.my_trades("BTCUSDT")
    assert len(trades) == 1 and set(trades[0]) == TRADE_KEYS
    assert trades[0]["qty"] == Decimal("0.5") and trades[0]["orderId"] == ids[0]
    assert _decimals_only(trades, ["price", "qty", "quoteQty", "commission"])
    assert api.my_trades("BTCUSDT", ids[1]) == []
    assert api.my_trades("BTCUSDT", from_id=trades[0]["id"] + 1) == []

    rates = api.commission_rates("BTCUSDT")
    assert rates["symbol"] == "BTCUSDT" and rates["standardCommission"]["taker"] == Decimal("0.001")
    assert isinstance(rates["discount"]["discount"], Decimal)

    limits = api.order_rate_limit()
    assert [(x["rateLimitType"], x["interval"], x["intervalNum"]) for x in limits] == [
        ("ORDERS", "SECOND", 10), ("ORDERS", "DAY", 1)]
    assert all(isinstance(x["count"], int) and isinstance(x["limit"], int) for x in limits)

    filters = api.my_filters("BTCUSDT")
    assert set(filters) == {"exchangeFilters", "symbolFilters", "assetFilters"}

    # not simulated by the fake's engine: empty, well-formed answers
    assert api.all_order_lists() == [] and api.open_order_lists() == []
    assert api.my_prevented_matches("BTCUSDT", order_id=ids[0]) == []
    assert api.my_allocations("BTCUSDT") == []
    assert api.order_amendments("BTCUSDT", ids[0]) == []
    with pytest.raises(bc.NotFoundError):
        api.order_amendments("BTCUSDT", 999_999)
    with pytest.raises(bc.BinanceError):
        api.get_order_list(order_list_id=1)


def test_rest_and_ws_api_agree(fake: FakeBinance, conn: bc.Connector) -> None:
    _setup_orders(fake, conn)
    for name, args in [("open_orders", ("BTCUSDT",)), ("all_orders", ("BTCUSDT",)), ("my_trades", ("BTCUSDT",)),
                       ("commission_rates", ("BTCUSDT",)), ("my_filters", ("BTCUSDT",))]:
        assert getattr(conn.rest, name)(*args) == getattr(conn.ws_api, name)(*args), name
    rest_acct, ws_acct = conn.rest.account(), conn.ws_api.account()
    assert rest_acct["balances"] == ws_acct["balances"]


def test_fake_charges_the_documented_weights(fake: FakeBinance, conn: bc.Connector) -> None:
    conn.rest.account()  # clock sync done
    for _ in range(3):  # another try when the minute window rolled in between (any delta is wrong then)
        assert wait_until(lambda: 0.5 < time.time() % 60 < 58, 5)  # clear of a boundary's landing guard
        minute = time.time() // 60
        before = conn.rest.used_weight.get("1M", 0)
        conn.rest.open_orders()
        conn.rest.my_trades("BTCUSDT", 1)
        conn.rest.my_filters("BTCUSDT")
        delta = conn.rest.used_weight.get("1M", 0) - before
        if time.time() // 60 == minute:
            break
    assert delta == 80 + 5 + 40
