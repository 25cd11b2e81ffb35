"""User data over the WebSocket API against FakeBinance (issue 6): order and balance events,
gap reconciliation, Ed25519 logon and HMAC signature paths, rejected credentials, resubscribe,
error isolation, ``conn.ws_api`` requests and orders."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any, Iterator, List

import pytest
from _connector_helpers import FakeBinance, Recorder, fast_builder, no_conn_threads, wait_until

import binance_conn as bc
from binance_conn.config import Config

__all__ = ["no_conn_threads"]

S = bc.ConnectionState


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=11, market_rate=20.0) as f:
        yield f


def _api_conns(fake: FakeBinance) -> List[dict]:
    return [r for r in fake.connection_log if r["path"].startswith("/ws-api")]


def _orders(rec: Recorder) -> List[bc.OrderUpdate]:
    return [e for e in rec.snapshot() if isinstance(e, bc.OrderUpdate)]


def _user_events(rec: Recorder) -> List[bc.ConnectionEvent]:
    return [e for e in rec.snapshot() if e.session == "user_data"]


def _ed25519_config(fake: FakeBinance) -> Config:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    fake.register_key("ed-key-1", pub)
    cfg: Config = (Config.builder().with_rest_url(fake.rest_url).with_ws_url(fake.ws_url)
                   .with_ws_api_url(fake.ws_api_url).with_api_key("ed-key-1").with_private_key(pem)
                   .with_backoff(base=0.05, max=0.5, jitter=0.0).with_debounce(0.0)
                   .with_websocket(ping_interval=0.5, pong_timeout=0.5, handshake_timeout=2.0).build())
    return cfg


def _place_and_fill(fake: FakeBinance, conn: bc.Connector) -> int:
    order = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC")
    fake.fill_order("BTCUSDT", order["orderId"], "0.4")
    fake.fill_order("BTCUSDT", order["orderId"])
    return int(order["orderId"])


def test_order_life_cycle_over_rest_hmac(fake: FakeBinance, no_conn_threads: None) -> None:
    orders, balances = Recorder(), Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_order(orders)
    conn.on_balance(balances)
    with conn:
        assert conn.wait_ready(5)
        assert fake.wait_for_user_subscriptions(1)
        # HMAC: the signed subscribe variant, no session logon
        assert conn.stats()["user_data"]["subscribed"]
        assert conn.ws_api.request("session.status")["apiKey"] is None
        oid = _place_and_fill(fake, conn)
        assert orders.wait_for(lambda items: any(e.status == "FILLED" for e in items))
        got = [e for e in _orders(orders) if e.order_id == oid]
        assert [e.status for e in got] == ["NEW", "PARTIALLY_FILLED", "FILLED"]
        assert [e.filled_quantity for e in got] == [Decimal(0), Decimal("0.4"), Decimal(1)]
        assert all(isinstance(e.price, Decimal) and e.price == Decimal(100) for e in got)
        assert got[1].last_fill_quantity == Decimal("0.4") and got[2].last_fill_quantity == Decimal("0.6")
        assert not any(e.is_reconciled for e in got) and got[0].exchange == "binance"
        assert got[0].side == "BUY" and got[0].symbol == "BTCUSDT"
        btc = fake.balance("BTC")[0]
        assert balances.wait_for(lambda items: any(b.asset == "BTC" and b.free == btc for b in items))
        assert all(isinstance(b.free, Decimal) for b in balances.snapshot())
    assert conn.state is S.STOPPED


def test_missed_fill_is_reconciled_after_reconnect(fake: FakeBinance, no_conn_threads: None) -> None:
    orders, events = Recorder(), Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_order(orders)
    conn.on_connection(events)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        order = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="2", price="100", time_in_force="GTC")
        fake.fill_order("BTCUSDT", order["orderId"], "0.5")
        assert orders.wait_for(lambda items: any(e.filled_quantity == Decimal("0.5") for e in items))
        before = fake.user_subscription_count()
        assert fake.drop_connections(path_prefix="/ws-api") == 1
        assert fake.wait_until(lambda: fake.user_subscription_count() < before or before == 0, 2)
        fake.fill_order("BTCUSDT", order["orderId"])  # happens inside the gap: nobody hears it
        assert orders.wait_for(lambda items: any(e.is_reconciled for e in items), 5)
        rec = [e for e in _orders(orders) if e.is_reconciled]
        assert len(rec) == 1
        r = rec[0]
        assert r.order_id == order["orderId"] and r.status == "FILLED" and r.filled_quantity == Decimal(2)
        assert [f.quantity for f in r.fills] == [Decimal("1.5")]
        assert r.client_order_id == order["clientOrderId"]
        assert conn.wait_ready(5)
        stats = conn.stats()["user_data"]
        assert stats["reconnects"] == 1 and stats["reconciled_updates"] == 1
        states = [e.state for e in _user_events(events)]
        assert states[0] is S.CONNECTED and S.DISCONNECTED in states and states[-1] is S.CONNECTED
        # only by-symbol queries, never the all-symbols openOrders
        open_q = [r for r in fake.request_log if r["path"] == "/api/v3/openOrders"]
        assert open_q and all("symbol" in r["params"] for r in open_q)


def test_ed25519_logon_path(fake: FakeBinance, no_conn_threads: None) -> None:
    orders = Recorder()
    conn = bc.Connector(_ed25519_config(fake))
    conn.on_order(orders)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        oid = _place_and_fill(fake, conn)
        assert orders.wait_for(lambda items: any(e.order_id == oid and e.status == "FILLED" for e in items))
        assert conn.ws_api.request("session.status")["apiKey"] == "ed-key-1"  # session.logon done
        # logged on: signed WebSocket API requests go without apiKey/signature
        account = conn.ws_api.request("account.status", signed=True)
        assert "balances" in account
        placed = conn.ws_api.place_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100",
                                         time_in_force="GTC")
        assert orders.wait_for(lambda items: any(e.order_id == placed["orderId"] for e in items))


def test_rejected_credentials_stop_user_data_only(fake: FakeBinance, no_conn_threads: None) -> None:
    errors, events, trades = Recorder(), Recorder(), Recorder()
    conn = bc.Connector(fast_builder(fake).with_api_key("not-a-key").build())
    conn.on_error(errors)
    conn.on_connection(events)
    conn.on_order(print)
    conn.on_trade("BTCUSDT", trades)
    with conn:
        assert errors.wait_for(lambda items: any(isinstance(e, bc.AuthenticationError) for e in items))
        assert wait_until(lambda: any(e.state is S.DISCONNECTED for e in _user_events(events)))
        down = [e for e in _user_events(events) if e.state is S.DISCONNECTED][0]
        assert "rejected" in down.reason
        n = len(trades)
        assert trades.wait_count(n + 5), "market streams keep running"
        # no reconnect storm: still one WebSocket API connection after many backoff periods
        assert not wait_until(lambda: len(_api_conns(fake)) > 1, timeout=1.0)
        assert conn.stats()["user_data"]["credentials_rejected"]
        assert not conn.ready.is_set()
        assert fake.api_secret not in repr(errors.snapshot()) + str(conn.stats())
        with pytest.raises(bc.NotConnectedError):
            conn.ws_api.request("time", timeout=0.5)


def test_revoked_key_while_running(fake: FakeBinance, no_conn_threads: None) -> None:
    errors, events = Recorder(), Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_error(errors)
    conn.on_connection(events)
    conn.on_order(print)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        fake.revoke_key(fake.api_key)
        assert errors.wait_for(lambda items: any(isinstance(e, bc.AuthenticationError) for e in items))
        # connection events come through their own subscriber queue: the error may arrive first
        assert wait_until(lambda: [e.state for e in _user_events(events)][-1:] == [S.DISCONNECTED])
        assert not wait_until(lambda: len(_api_conns(fake)) > 1, timeout=0.5)


def test_event_stream_terminated_resubscribes(fake: FakeBinance, no_conn_threads: None) -> None:
    orders = Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_order(orders)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        assert fake.terminate_user_streams() == 1
        assert fake.wait_for_user_subscriptions(1)
        assert wait_until(lambda: conn.stats()["user_data"]["subscribes"] == 2)
        assert len(_api_conns(fake)) == 1, "resubscribed on the same connection"
        oid = _place_and_fill(fake, conn)
        assert orders.wait_for(lambda items: any(e.order_id == oid and e.status == "FILLED" for e in items))


def test_raising_order_callback_does_not_stop_balances(fake: FakeBinance, no_conn_threads: None) -> None:
    errors, balances = Recorder(), Recorder()

    def boom(event: Any) -> None:
        raise RuntimeError("callback bug")

    conn = bc.Connector(fast_builder(fake).build())
    conn.on_error(errors)
    conn.on_order(boom)
    conn.on_balance(balances)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        _place_and_fill(fake, conn)
        fake.deposit("USDT", "5")
        assert balances.wait_for(lambda items: any(b.delta == Decimal(5) for b in items))
        assert errors.wait_count(3)
        assert all("callback bug" in str(e) for e in errors.snapshot())


def test_ws_api_requests_and_orders(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    with pytest.raises(bc.NotConnectedError):
        conn.ws_api.request("time")  # not started
    with conn:
        assert abs(conn.ws_api.request("time")["serverTime"] - fake.now_ms()) < 5000
        assert "balances" in conn.ws_api.request("account.status", signed=True)
        with pytest.raises(bc.NotFoundError):
            conn.ws_api.request("order.status", {"symbol": "BTCUSDT", "orderId": 999999}, signed=True)
        placed = conn.ws_api.place_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100",
                                         time_in_force="GTC", client_order_id="my-order-1")
        assert placed["clientOrderId"] == "my-order-1" and placed["origQty"] == Decimal(1)
        canceled = conn.ws_api.cancel_order("BTCUSDT", client_order_id="my-order-1")
        assert canceled["status"] == "CANCELED"
        # an unanswered placement is never re-sent: UnknownStatusError with the client order id
        fake.freeze(path_prefix="/ws-api")
        with pytest.raises(bc.UnknownStatusError) as info:
            conn.ws_api.place_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC",
                                    timeout=0.5)
        cid = info.value.client_order_id
        assert cid and cid.startswith("bc-")
        assert sum(1 for o in fake.orders("BTCUSDT") if o["clientOrderId"] == cid) <= 1
        fake.resume()
        assert conn.stats()["user_data"]["pending_requests"] == 0


def test_user_data_needs_credentials() -> None:
    cfg = Config.builder().with_rest_url("http://127.0.0.1:9").with_ws_url("ws://127.0.0.1:9").build()
    conn = bc.Connector(cfg)
    for subscribe in (conn.on_order, conn.on_balance, conn.on_order_list):
        with pytest.raises(bc.ValidationError) as info:
            subscribe(print)
        assert info.value.field == "auth.api_key"
    assert conn.stop() is True


def test_market_only_connector_opens_no_ws_api(fake: FakeBinance, no_conn_threads: None) -> None:
    trades = Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_trade("BTCUSDT", trades)
    with conn:
        assert conn.wait_ready(5) and trades.wait_count(3)
        assert _api_conns(fake) == []
        assert conn.stats()["user_data"]["state"] == "STOPPED"


def test_frozen_ws_api_link_is_replaced_and_resubscribed(fake: FakeBinance, no_conn_threads: None) -> None:
    orders = Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_order(orders)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        fake.freeze(path_prefix="/ws-api")  # half-open: no data, no pongs
        assert wait_until(lambda: conn.stats()["user_data"]["zombies_replaced"] == 1, timeout=5)
        assert wait_until(lambda: conn.stats()["user_data"]["subscribes"] == 2, timeout=5)
        assert len(_api_conns(fake)) == 2
        oid = _place_and_fill(fake, conn)
        assert orders.wait_for(lambda items: any(e.order_id == oid and e.status == "FILLED" for e in items))


def test_server_shutdown_rolls_over_without_gap(fake: FakeBinance, no_conn_threads: None) -> None:
    orders, events = Recorder(), Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_order(orders)
    conn.on_connection(events)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        order = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC")
        oid = order["orderId"]
        fake.send_server_shutdown()
        assert wait_until(lambda: conn.stats()["user_data"]["rollovers"] == 1)
        # fill in small steps while the successor connects and subscribes, and a few more while the old drains
        steps, after = 0, 0
        while after < 5 and steps < 500:
            fake.fill_order("BTCUSDT", oid, "0.001")
            steps += 1
            if conn.stats()["user_data"]["subscribes"] >= 2:
                after += 1
        assert after == 5, "the successor subscribed"
        assert wait_until(lambda: fake.open_connections(path_prefix="/ws-api") == 1)
        fake.fill_order("BTCUSDT", oid)
        assert orders.wait_for(lambda items: any(e.status == "FILLED" for e in items))
        got = [e for e in _orders(orders) if e.order_id == oid]
        assert len(got) == steps + 2, "every execution exactly once"
        assert [e.filled_quantity for e in got] == sorted({e.filled_quantity for e in got})
        stats = conn.stats()["user_data"]
        assert stats["rollovers"] == 1 and stats["reconnects"] == 0 and stats["reconciliations"] == 0
        assert fake.user_subscription_count() == 1 and len(_api_conns(fake)) == 2
        assert [e.state for e in _user_events(events)] == [S.CONNECTED], "no outage was visible"


def test_max_lifetime_rolls_over_before_the_limit(fake: FakeBinance, no_conn_threads: None) -> None:
    events = Recorder()
    conn = bc.Connector(fast_builder(fake, max_lifetime=0.6).build())
    conn.on_balance(print)
    conn.on_connection(events)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        assert wait_until(lambda: conn.stats()["user_data"]["rollovers"] >= 1 and
                          conn.stats()["user_data"]["subscribes"] >= 2, timeout=5)
        assert wait_until(lambda: fake.open_connections(path_prefix="/ws-api") == 1)
        assert conn.stats()["user_data"]["reconnects"] == 0
        assert fake.user_subscription_count() == 1
        assert S.DISCONNECTED not in [e.state for e in _user_events(events)]


def test_rsa_key_uses_the_signature_path(fake: FakeBinance, no_conn_threads: None) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    fake.register_key("rsa-key-1", pub)
    cfg = (Config.builder().with_rest_url(fake.rest_url).with_ws_url(fake.ws_url).with_ws_api_url(fake.ws_api_url)
           .with_api_key("rsa-key-1").with_private_key(pem).with_debounce(0.0).build())
    orders = Recorder()
    conn = bc.Connector(cfg)
    conn.on_order(orders)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        assert conn.ws_api.request("session.status")["apiKey"] is None  # no logon with RSA
        oid = _place_and_fill(fake, conn)
        assert orders.wait_for(lambda items: any(e.order_id == oid and e.status == "FILLED" for e in items))


def test_order_placed_over_rest_during_a_gap_is_reconciled(fake: FakeBinance, no_conn_threads: None) -> None:
    orders = Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_order(orders)
    with conn:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        fake.refuse_handshakes(1.0)
        fake.drop_connections(path_prefix="/ws-api")
        assert wait_until(lambda: not conn.ready.is_set())
        # placed and partly filled while no user-data link exists: only the REST answer tells us
        order = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC")
        fake.fill_order("BTCUSDT", order["orderId"], "0.3")
        assert conn.stats()["user_data"]["tracked_orders"] == 1
        assert orders.wait_for(lambda items: any(e.is_reconciled for e in items), 5)
        r = [e for e in _orders(orders) if e.is_reconciled][0]
        assert r.order_id == order["orderId"] and r.status == "PARTIALLY_FILLED"
        assert r.filled_quantity == Decimal("0.3") and [f.quantity for f in r.fills] == [Decimal("0.3")]


def test_ws_api_order_in_flight_on_a_lost_link_is_unknown(fake: FakeBinance, no_conn_threads: None) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    with conn:
        assert conn.ws_api.request("ping") == {}
        fake.freeze(path_prefix="/ws-api")  # the order is never answered; the zombie link is cut
        with pytest.raises(bc.UnknownStatusError) as info:
            conn.ws_api.place_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC",
                                    client_order_id="lost-1", timeout=8.0)
        assert info.value.client_order_id == "lost-1" and "in flight" in str(info.value)
        assert conn.stats()["user_data"]["zombies_replaced"] == 1
        fake.resume()
        assert conn.ws_api.request("ping") == {}  # the session came back by itself


def test_stop_joins_user_data_threads_and_restart_resubscribes(fake: FakeBinance, no_conn_threads: None) -> None:
    orders = Recorder()
    conn = bc.Connector(fast_builder(fake).build())
    conn.on_order(orders)
    conn.start()
    assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
    assert conn.stop(timeout=3.0) is True
    assert not [t for t in threading.enumerate() if t.name.startswith("binance_conn-user_data")]
    assert fake.wait_until(lambda: fake.user_subscription_count() == 0)
    conn.start()
    try:
        assert conn.wait_ready(5) and fake.wait_for_user_subscriptions(1)
        oid = _place_and_fill(fake, conn)
        assert orders.wait_for(lambda items: any(e.order_id == oid and e.status == "FILLED" for e in items))
    finally:
        assert conn.stop(timeout=3.0) is True
