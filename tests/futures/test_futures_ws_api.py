"""The futures WebSocket API (issue 14; binance-futures-reference.md sections 1, 2.3, 3.3, 7.2, 8):
URL path per product, spot signing, requests-only link, orders and queries against
``FakeBinance(product="usdm"|"coinm")``."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from _connector_helpers import FakeBinance, fast_builder, no_conn_threads  # noqa: E402

import binance_conn as bc  # noqa: E402
from binance_conn._core.wsapi_paths import FUTURES_WS_METHODS, ws_api_path  # noqa: E402
from binance_conn._userdata.futures_client import FuturesWsApiClient  # noqa: E402
from binance_conn._userdata.session import UserDataLink  # noqa: E402
from binance_conn.config import ConfigBuilder  # noqa: E402

__all__ = ["no_conn_threads"]


# ---------------------------------------------------------------- URL / path per product
@pytest.mark.parametrize("preset, url", [
    ("binance", "wss://ws-api.binance.com:443/ws-api/v3"),
    ("binance-usdm", "wss://ws-fapi.binance.com/ws-fapi/v1"),
    ("binance-usdm-testnet", "wss://testnet.binancefuture.com/ws-fapi/v1"),
    ("binance-coinm", "wss://ws-dapi.binance.com/ws-dapi/v1"),
    ("binance-coinm-testnet", "wss://testnet.binancefuture.com/ws-dapi/v1"),
])
def test_ws_api_url_per_product(preset: str, url: str) -> None:
    cfg = ConfigBuilder().with_exchange(preset).build()
    link = UserDataLink(cfg, None, lambda: None)  # type: ignore[arg-type]
    assert link.url == url
    assert link.is_futures is (preset != "binance")


@pytest.mark.parametrize("preset, given", [
    ("binance-usdm", "wss://example.test:9000/ws-fapi/v1"),
    ("binance-usdm", "wss://example.test:9000/ws-fapi/v1/"),
    ("binance-coinm", "wss://example.test:9000/ws-dapi/v1"),
    ("binance-usdm", "wss://example.test:9000"),
])
def test_ws_api_url_override_strips_the_futures_path(preset: str, given: str) -> None:
    cfg = ConfigBuilder().with_exchange(preset).with_ws_api_url(given).build()
    assert cfg.exchange.ws_api_url == "wss://example.test:9000"
    link = UserDataLink(cfg, None, lambda: None)  # type: ignore[arg-type]
    assert link.url == "wss://example.test:9000" + ws_api_path(cfg.exchange.product)


def test_ws_api_path_table() -> None:
    assert ws_api_path("spot") == "/ws-api/v3"
    assert ws_api_path("usdm") == "/ws-fapi/v1"
    assert ws_api_path("coinm") == "/ws-dapi/v1"
    assert {"order.place", "order.cancel", "order.modify", "order.status", "account.position",
            "account.balance", "account.status", "userDataStream.start"} <= FUTURES_WS_METHODS
    assert "userDataStream.subscribe" not in FUTURES_WS_METHODS


def test_futures_connector_gets_the_futures_ws_api_class() -> None:
    spot = bc.Connector(ConfigBuilder().with_exchange("binance").build())
    fut = bc.Connector(ConfigBuilder().with_exchange("binance-usdm").build())
    assert type(spot.ws_api).__name__ == "WsApiClient"
    assert isinstance(fut.ws_api, FuturesWsApiClient)


def test_futures_link_never_plans_a_user_data_subscription() -> None:
    cfg = ConfigBuilder().with_exchange("binance-usdm").with_api_key("k").with_api_secret("s").build()
    link = UserDataLink(cfg, None, lambda: None)  # type: ignore[arg-type]
    link.topic_changed("orders", True)
    assert not link.wants_user_data
    link._topics.add("orders")  # even if a topic got there, no plan (requests only)
    assert link._new_plan() is None


# ---------------------------------------------------------------- against the fake
@pytest.fixture(params=["usdm", "coinm"])
def fake(request: Any) -> Iterator[FakeBinance]:
    with FakeBinance(seed=3, market_rate=0.0, product=request.param) as f:
        yield f


@pytest.fixture
def conn(fake: FakeBinance, no_conn_threads: None) -> Iterator[bc.Connector]:
    c = bc.Connector(fast_builder(fake).build())
    with c:
        yield c


def _api_paths(fake: FakeBinance) -> set:
    return {r["path"].split("?")[0] for r in fake.connection_log if r["kind"] == "api"}


def test_signed_requests_over_the_futures_path(fake: FakeBinance, conn: bc.Connector) -> None:
    assert conn.ws_api.request("time")["serverTime"] > 0
    assert _api_paths(fake) == {ws_api_path(fake.product)}
    balances = conn.ws_api.request("account.balance", signed=True)
    assert balances and {"asset", "balance", "availableBalance"} <= set(balances[0])
    assert conn.ws_api.request("v2/account.balance", signed=True)[0]["asset"] == balances[0]["asset"]  # v2/ too
    status = conn.ws_api.request("account.status", signed=True)
    assert "totalWalletBalance" in status and status["positions"] == []


def test_bad_signature_is_refused(fake: FakeBinance, no_conn_threads: None) -> None:
    c = bc.Connector(fast_builder(fake).with_api_secret("not-the-secret").build())
    with c:
        with pytest.raises(bc.BinanceError) as info:
            c.ws_api.request("account.balance", signed=True)
        assert info.value.binance_code == -1022


def test_place_query_modify_cancel_over_ws_api(fake: FakeBinance, conn: bc.Connector) -> None:
    symbol = "BTCUSDT"
    bid, _ask = fake.best_prices(symbol)
    price = bid - 100
    placed = conn.ws_api.request("order.place", {
        "symbol": symbol, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": Decimal("0.002"),
        "price": price, "positionSide": "BOTH", "newClientOrderId": "fut-ws-1"}, signed=True)
    assert placed["status"] == "NEW" and placed["positionSide"] == "BOTH" and placed["clientOrderId"] == "fut-ws-1"
    oid = placed["orderId"]
    got = conn.ws_api.request("order.status", {"symbol": symbol, "orderId": oid}, signed=True)
    assert got["orderId"] == oid and Decimal(got["origQty"]) == Decimal("0.002")
    mod = conn.ws_api.request("order.modify", {"symbol": symbol, "orderId": oid, "side": "BUY",
                                                "quantity": "0.003", "price": str(price)}, signed=True)
    assert mod["orderId"] == oid and Decimal(mod["origQty"]) == Decimal("0.003")
    done = conn.ws_api.request("order.cancel", {"symbol": symbol, "origClientOrderId": "fut-ws-1"}, signed=True)
    assert done["status"] == "CANCELED"
    with pytest.raises(bc.BinanceError) as info:
        conn.ws_api.request("order.cancel", {"symbol": symbol, "orderId": oid}, signed=True)
    assert info.value.binance_code == -2011


def test_market_fill_moves_the_position(fake: FakeBinance, conn: bc.Connector) -> None:
    out = conn.ws_api.request("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                              "quantity": "0.01", "newOrderRespType": "RESULT"}, signed=True)
    assert out["status"] == "FILLED"
    rows = conn.ws_api.request("account.position", {"symbol": "BTCUSDT"}, signed=True)
    assert len(rows) == 1 and Decimal(rows[0]["positionAmt"]) == Decimal("0.01")
    assert Decimal(rows[0]["entryPrice"]) == Decimal(out["avgPrice"]) > 0
    assert rows[0]["positionSide"] == "BOTH"


def test_conditional_type_is_refused_with_4120(fake: FakeBinance, conn: bc.Connector) -> None:
    with pytest.raises(bc.BinanceError) as info:
        conn.ws_api.request("order.place", {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                                            "quantity": "0.01", "stopPrice": "1"}, signed=True)
    assert info.value.binance_code == -4120


def test_float_rule_as_spot(fake: FakeBinance, conn: bc.Connector) -> None:
    with pytest.raises(bc.ValidationError) as info:
        conn.ws_api.request("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                            "quantity": 0.01}, signed=True)
    assert info.value.field == "quantity"


def test_listen_key_methods(fake: FakeBinance, conn: bc.Connector) -> None:
    key = conn.ws_api.start_user_stream()
    assert key and conn.ws_api.start_user_stream() == key  # one key per account
    assert conn.ws_api.keepalive_user_stream()["listenKey"] == key
    conn.ws_api.close_user_stream()
    if hasattr(fake, "listen_keys"):  # the fake's own listenKey store: the REST routes see the same key
        assert key not in fake.listen_keys()
    with pytest.raises(bc.BinanceError) as info:
        conn.ws_api.keepalive_user_stream()
    assert info.value.binance_code == -1125


def test_no_user_data_subscription_is_sent(fake: FakeBinance, conn: bc.Connector) -> None:
    conn.ws_api.request("ping")
    assert fake.user_subscription_count() == 0
    with pytest.raises(bc.ValidationError):
        conn.ws_api.session_subscriptions()
    with pytest.raises(bc.BinanceError) as info:  # the fake, like Binance futures, has no such method
        conn.ws_api.request("userDataStream.subscribe")
    assert info.value.binance_code == -1020


def test_spot_only_typed_method_is_refused_before_sending(fake: FakeBinance, conn: bc.Connector) -> None:
    with pytest.raises(bc.ValidationError) as info:
        conn.ws_api.klines("BTCUSDT", "1m")
    assert info.value.field == "method"


def test_ed25519_session_logon(fake: FakeBinance, no_conn_threads: None) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fake.register_key("fut-ed-1", pub)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    cfg = (ConfigBuilder().with_exchange(f"binance-{fake.product}").with_rest_url(fake.rest_url)
           .with_ws_url(fake.ws_url).with_ws_api_url(fake.ws_api_url).with_api_key("fut-ed-1")
           .with_private_key(pem).with_debounce(0.0).build())
    with bc.Connector(cfg) as c:
        res = c.ws_api.request("session.logon", signed=True)
        assert res["apiKey"] == "fut-ed-1"
        # logged on: signed requests carry timestamp only and still pass
        assert "asset" in c.ws_api.request("account.balance", signed=True)[0]
        assert c.ws_api.session_status()["apiKey"] == "fut-ed-1"


def test_typed_order_methods_over_futures_ws_api(fake: FakeBinance, conn: bc.Connector) -> None:
    """The shared typed methods reach the futures method names (``order.place``, ``order.status``,
    ``order.cancel``) with Binance-named extras such as ``positionSide``; answers come as Decimals."""
    bid, _ask = fake.best_prices("BTCUSDT")
    placed = conn.ws_api.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price=bid - 10, time_in_force="GTC",
                                   positionSide="BOTH")
    assert placed["status"] == "NEW" and placed["origQty"] == Decimal("0.01")
    got = conn.ws_api.get_order("BTCUSDT", order_id=placed["orderId"])
    assert got["orderId"] == placed["orderId"] and got["price"] == bid - 10
    done = conn.ws_api.cancel_order("BTCUSDT", order_id=placed["orderId"])
    assert done["status"] == "CANCELED"


def test_algo_order_place_and_cancel(fake: FakeBinance, conn: bc.Connector) -> None:
    """``algoOrder.place`` / ``algoOrder.cancel`` (section 8.2): conditional orders on the Algo Service."""
    algo = conn.ws_api.request("algoOrder.place", {
        "algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.01",
        "triggerPrice": Decimal("1000"), "clientAlgoId": "fut-algo-1"}, signed=True)
    assert algo["algoStatus"] == "NEW" and algo["orderType"] == "STOP_MARKET"
    assert Decimal(algo["triggerPrice"]) == 1000
    out = conn.ws_api.request("algoOrder.cancel", {"clientAlgoId": "fut-algo-1"}, signed=True)
    assert out == {"algoId": algo["algoId"], "clientAlgoId": "fut-algo-1", "code": "200", "msg": "success"}
    with pytest.raises(bc.BinanceError) as info:
        conn.ws_api.request("algoOrder.cancel", {"algoId": algo["algoId"]}, signed=True)
    assert info.value.binance_code == -2011


def test_futures_typed_methods_over_ws_api(fake: FakeBinance, conn: bc.Connector) -> None:
    """The futures typed methods (``FuturesApi``) go over the link by their WebSocket method names."""
    bid, _ask = fake.best_prices("BTCUSDT")
    placed = conn.ws_api.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price=bid - 10, time_in_force="GTC",
                                   position_side="BOTH")
    mod = conn.ws_api.modify_order("BTCUSDT", "BUY", order_id=placed["orderId"], quantity="0.02", price=bid - 10)
    assert mod["origQty"] == Decimal("0.02")
    algo = conn.ws_api.new_order("BTCUSDT", "SELL", "STOP_MARKET", quantity="0.01", stop_price=bid - 1000)
    assert "algoId" in algo  # a conditional type is sent as algoOrder.place
    conn.ws_api.new_order("BTCUSDT", "BUY", "MARKET", quantity="0.01")
    if fake.product == "usdm":  # v2/account.* (the COIN-M table names no WebSocket twin: refused)
        rows = conn.ws_api.positions("BTCUSDT")
        assert rows and rows[0]["positionAmt"] == Decimal("0.01")
        assert conn.ws_api.balance() and "totalWalletBalance" in conn.ws_api.account()
    else:
        with pytest.raises(bc.ValidationError):
            conn.ws_api.positions("BTCUSDT")
    key = conn.ws_api.new_listen_key()  # userDataStream.start with the apiKey (USER_STREAM)
    assert key == conn.ws_api.start_user_stream()
    with pytest.raises(bc.ValidationError) as info:
        conn.ws_api.income()  # no WebSocket method: refused before sending
    assert info.value.field == "method"
