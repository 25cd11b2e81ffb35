"""Trading endpoints end to end against FakeBinance: order lists (OCO, deprecated OCO, OTO, OTOCO,
OPO) placed, triggered and cancelled over REST and ``conn.ws_api``, cancel of all open orders,
cancel-replace (both modes, partial failure), amend keepPriority, SOR; user-data events."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from _connector_helpers import FakeBinance, Recorder, fast_builder, no_conn_threads, wait_until

import binance_conn as bc
from binance_conn._rest.limiter import WeightLimiterRegistry
from binance_conn.rest import RestClient

__all__ = ["no_conn_threads"]

TICK = Decimal("0.01")


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=5) as f:
        yield f


@pytest.fixture
def rest(fake: FakeBinance) -> RestClient:
    return RestClient(fake.config_builder().with_backoff(base=0.01, max=0.05, jitter=0.0).build(),
                      limiter_registry=WeightLimiterRegistry())


def prices(fake: FakeBinance) -> Tuple[Decimal, Decimal]:
    """(well below the market, well above it), on the tick."""
    bid, ask = fake.best_prices("BTCUSDT")
    return ((bid * Decimal("0.9")).quantize(TICK, ROUND_DOWN), (ask * Decimal("1.1")).quantize(TICK, ROUND_DOWN))


def open_orders(fake: FakeBinance) -> List[Dict[str, Any]]:
    return fake.orders("BTCUSDT", open_only=True)


def sell_oco(client: Any, fake: FakeBinance, **kw: Any) -> Any:
    low, high = prices(fake)
    return client.new_order_list_oco("BTCUSDT", "SELL", "0.01", "LIMIT_MAKER", "STOP_LOSS_LIMIT", above_price=high,
                                     below_stop_price=low, below_price=low - 1, below_time_in_force="GTC", **kw)


def test_oco_placed_and_cancelled_over_rest(fake: FakeBinance, rest: RestClient) -> None:
    placed = sell_oco(rest, fake)
    assert placed["contingencyType"] == "OCO" and placed["listOrderStatus"] == "EXECUTING"
    assert placed["listClientOrderId"].startswith("bc-")
    reports = placed["orderReports"]
    assert [r["type"] for r in reports] == ["STOP_LOSS_LIMIT", "LIMIT_MAKER"]
    assert all(r["status"] == "NEW" and r["orderListId"] == placed["orderListId"] for r in reports)
    assert isinstance(reports[0]["stopPrice"], Decimal) and reports[1]["origQty"] == Decimal("0.01")
    assert len(open_orders(fake)) == 2 and fake.balance("BTC")[1] == Decimal("0.01")
    done = rest.cancel_order_list("BTCUSDT", order_list_id=placed["orderListId"])
    assert done["listOrderStatus"] == "ALL_DONE" and {r["status"] for r in done["orderReports"]} == {"CANCELED"}
    assert open_orders(fake) == [] and fake.balance("BTC") == (Decimal(10), Decimal(0))
    with pytest.raises(bc.NotFoundError):
        rest.cancel_order_list("BTCUSDT", list_client_order_id=placed["listClientOrderId"])


def test_oco_leg_fill_expires_the_other_leg(fake: FakeBinance, rest: RestClient) -> None:
    placed = sell_oco(rest, fake, list_client_order_id="my-oco")
    stop, maker = placed["orderReports"]
    fake.fill_order("BTCUSDT", maker["orderId"])
    by_id = {o["orderId"]: o for o in fake.orders("BTCUSDT")}
    assert by_id[maker["orderId"]]["status"] == "FILLED" and by_id[stop["orderId"]]["status"] == "EXPIRED"
    status = rest.request("GET", "/api/v3/orderList", {"origClientOrderId": "my-oco"}, signed=True)
    assert status["listOrderStatus"] == "ALL_DONE" and status["orderListId"] == placed["orderListId"]


def test_deprecated_oco_and_cancelling_one_leg_cancels_the_list(fake: FakeBinance, rest: RestClient) -> None:
    low, high = prices(fake)
    placed = rest.new_oco("BTCUSDT", "SELL", "0.01", high, low, stop_limit_price=low - 1,
                          stop_limit_time_in_force="GTC")
    assert {r["type"] for r in placed["orderReports"]} == {"LIMIT_MAKER", "STOP_LOSS_LIMIT"}
    leg = placed["orderReports"][1]["orderId"]
    out = rest.cancel_order("BTCUSDT", order_id=leg)
    assert out["listOrderStatus"] == "ALL_DONE" and len(out["orderReports"]) == 2 and open_orders(fake) == []


def test_oco_price_relationship_is_checked(fake: FakeBinance, rest: RestClient) -> None:
    low, high = prices(fake)
    with pytest.raises(bc.OrderRejectedError):
        rest.new_order_list_oco("BTCUSDT", "SELL", "0.01", "LIMIT_MAKER", "STOP_LOSS", above_price=low,
                                below_stop_price=high)
    assert open_orders(fake) == []


def test_oto_pending_order_placed_when_the_working_order_fills(fake: FakeBinance, rest: RestClient) -> None:
    low, high = prices(fake)
    placed = rest.new_order_list_oto("BTCUSDT", "LIMIT", "BUY", low, "0.01", "LIMIT_MAKER", "SELL", "0.01",
                                     working_time_in_force="GTC", pending_price=high)
    working, pending = placed["orderReports"]
    assert (working["status"], pending["status"]) == ("NEW", "PENDING_NEW")
    fake.fill_order("BTCUSDT", working["orderId"])
    now = {o["orderId"]: o for o in fake.orders("BTCUSDT")}
    assert now[working["orderId"]]["status"] == "FILLED" and now[pending["orderId"]]["status"] == "NEW"
    assert fake.balance("BTC")[1] == Decimal("0.01")  # the pending SELL rests and locks its quantity


def test_otoco_and_opo(fake: FakeBinance, rest: RestClient) -> None:
    low, high = prices(fake)
    placed = rest.new_order_list_otoco("BTCUSDT", "LIMIT", "BUY", low, "0.01", "SELL", "0.01", "LIMIT_MAKER",
                                       pending_below_type="STOP_LOSS", working_time_in_force="GTC",
                                       pending_above_price=high, pending_below_stop_price=low - 10)
    working, above, below = placed["orderReports"]
    fake.fill_order("BTCUSDT", working["orderId"])
    fake.fill_order("BTCUSDT", above["orderId"])
    now = {o["orderId"]: o["status"] for o in fake.orders("BTCUSDT")}
    assert (now[above["orderId"]], now[below["orderId"]]) == ("FILLED", "EXPIRED")
    opo = rest.new_order_list_opo("BTCUSDT", "LIMIT", "BUY", low, "0.01", "LIMIT_MAKER", "SELL",
                                  working_time_in_force="GTC", pending_price=high)
    fake.fill_order("BTCUSDT", opo["orderReports"][0]["orderId"])
    pending = next(o for o in fake.orders("BTCUSDT") if o["orderId"] == opo["orderReports"][1]["orderId"])
    # the received 0.01 BTC minus the 0.1 % commission, down to the 0.00001 step
    assert pending["status"] == "NEW" and Decimal(pending["origQty"]) == Decimal("0.00999")


def test_cancel_open_orders_covers_orders_and_lists(fake: FakeBinance, rest: RestClient) -> None:
    low, _ = prices(fake)
    single = rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price=low, time_in_force="GTC")
    assert single["status"] == "NEW" and single["fills"] == []
    placed = sell_oco(rest, fake)
    out = rest.cancel_open_orders("BTCUSDT")
    assert [x.get("orderId") for x in out if "orderListId" in x and x.get("orderListId") == -1] == [single["orderId"]]
    lists = [x for x in out if "orderReports" in x]
    assert len(lists) == 1 and lists[0]["orderListId"] == placed["orderListId"]
    assert open_orders(fake) == [] and rest.cancel_open_orders("BTCUSDT") == []


def test_cancel_replace_modes(fake: FakeBinance, rest: RestClient) -> None:
    low, _ = prices(fake)
    old = rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price=low, time_in_force="GTC")
    out = rest.cancel_replace("BTCUSDT", "BUY", "LIMIT", "STOP_ON_FAILURE", cancel_order_id=old["orderId"],
                              quantity="0.02", price=low, time_in_force="GTC")
    assert (out["cancelResult"], out["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert out["cancelResponse"]["status"] == "CANCELED" and out["newOrderResponse"]["origQty"] == Decimal("0.02")
    assert out["newOrderResponse"]["clientOrderId"].startswith("bc-") and "fills" in out["newOrderResponse"]
    with pytest.raises(bc.APIError) as info:
        rest.cancel_replace("BTCUSDT", "BUY", "LIMIT", "STOP_ON_FAILURE", cancel_order_id=old["orderId"],
                            quantity="0.02", price=low, time_in_force="GTC")
    assert info.value.binance_code == -2022 and len(open_orders(fake)) == 1
    with pytest.raises(bc.APIError) as info:
        rest.cancel_replace("BTCUSDT", "BUY", "LIMIT", "ALLOW_FAILURE", cancel_order_id=old["orderId"],
                            quantity="0.03", price=low, time_in_force="GTC", client_order_id="replaced-1")
    assert info.value.binance_code == -2021 and info.value.http_status == 409
    assert any(o["clientOrderId"] == "replaced-1" for o in open_orders(fake))
    err = info.value
    assert isinstance(err, bc.CancelReplaceError)
    assert err.data["cancelResult"] == "FAILURE" and err.new_order_response["clientOrderId"] == "replaced-1"
    assert err.new_order_response["origQty"] == Decimal("0.03")


def test_amend_keep_priority_reduces_quantity(fake: FakeBinance, rest: RestClient) -> None:
    low, _ = prices(fake)
    order = rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.04", price=low, time_in_force="GTC",
                           client_order_id="amend-me")
    locked = fake.balance("USDT")[1]
    out = rest.amend_order("BTCUSDT", "0.01", orig_client_order_id="amend-me", new_client_order_id="amended")
    amended = out["amendedOrder"]
    assert amended["qty"] == Decimal("0.01") and amended["origClientOrderId"] == "amend-me"
    assert amended["clientOrderId"] == "amended" and amended["orderId"] == order["orderId"]
    assert fake.balance("USDT")[1] == locked / 4
    with pytest.raises(bc.APIError):
        rest.amend_order("BTCUSDT", "0.02", order_id=order["orderId"])  # no increase


def test_sor_order_and_tests(fake: FakeBinance, rest: RestClient) -> None:
    out = rest.new_sor_order("BTCUSDT", "BUY", "MARKET", "0.001")
    assert out["usedSor"] is True and out["workingFloor"] == "SOR" and out["status"] == "FILLED"
    assert all(isinstance(f["price"], Decimal) for f in out["fills"])
    assert rest.test_sor_order("BTCUSDT", "BUY", "MARKET", "0.001") == {}
    rates = rest.test_order("BTCUSDT", "BUY", "MARKET", quantity="0.001", compute_commission_rates=True)
    assert rates["standardCommissionForOrder"]["taker"] == Decimal("0.001")


def test_ws_api_trading(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    rec = Recorder()
    with conn:
        conn.on_order(rec)
        assert conn.wait_ready(10) and fake.wait_for_user_subscriptions(1)
        api = conn.ws_api
        placed = sell_oco(api, fake)
        assert placed["contingencyType"] == "OCO" and len(placed["orderReports"]) == 2
        ids = {r["orderId"] for r in placed["orderReports"]}
        assert wait_until(lambda: ids <= {e.order_id for e in rec.snapshot() if isinstance(e, bc.OrderUpdate)})
        assert conn.stats()["user_data"]["tracked_orders"] >= 2
        done = api.cancel_order_list("BTCUSDT", list_client_order_id=placed["listClientOrderId"])
        assert done["listOrderStatus"] == "ALL_DONE"
        low, _ = prices(fake)
        old = api.place_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price=low, time_in_force="GTC")
        rep = api.cancel_replace("BTCUSDT", "BUY", "LIMIT", "STOP_ON_FAILURE", cancel_order_id=old["orderId"],
                                 quantity="0.02", price=low, time_in_force="GTC")
        new_id = rep["newOrderResponse"]["orderId"]
        amended = api.amend_order("BTCUSDT", "0.01", order_id=new_id)
        assert amended["amendedOrder"]["qty"] == Decimal("0.01")
        sell_oco(api, fake)
        cancelled = api.cancel_open_orders("BTCUSDT")
        assert len(cancelled) == 2 and open_orders(fake) == []
        sor = api.new_sor_order("BTCUSDT", "BUY", "MARKET", "0.001")
        assert isinstance(sor, list) and sor[0]["usedSor"] is True
        with pytest.raises(bc.APIError) as info:
            api.cancel_replace("BTCUSDT", "BUY", "LIMIT", "STOP_ON_FAILURE", cancel_order_id=old["orderId"],
                               quantity="0.02", price=low, time_in_force="GTC")
        assert info.value.binance_code == -2022
        stats = conn.stats()["user_data"]
        assert stats["malformed"] == 0 and stats["internal_errors"] == 0  # listStatus events are taken in stride


def test_ws_api_order_list_unknown_outcome_then_reconciled(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    with conn:
        assert conn.ws_api.request("time")  # the WebSocket API link is up
        fake.freeze(path_prefix="/ws-api")
        with pytest.raises(bc.UnknownStatusError) as info:
            sell_oco(conn.ws_api, fake, timeout=0.5)
        err = info.value
        lid = err.details["list_client_order_id"]
        assert lid == err.client_order_id and lid.startswith("bc-") and err.symbol == "BTCUSDT"
        fake.resume()
        found = conn.rest.reconcile_order(err)
        if found is not None:  # the frozen link may or may not have delivered the request
            assert found["listClientOrderId"] == lid and found["contingencyType"] == "OCO"
        else:
            assert all(o["orderListId"] == -1 for o in fake.orders("BTCUSDT"))


def test_rest_order_list_unknown_outcome_is_reconciled(fake: FakeBinance, rest: RestClient) -> None:
    fake.delay_responses(1.0, path="/api/v3/orderList/oco")
    with pytest.raises(bc.UnknownStatusError) as info:
        sell_oco(rest, fake, timeout=0.3)
    err = info.value
    assert err.details["list_client_order_id"] == err.client_order_id
    assert wait_until(lambda: len(open_orders(fake)) == 2)
    found = rest.reconcile_order(err)
    assert found is not None and found["listClientOrderId"] == err.client_order_id
