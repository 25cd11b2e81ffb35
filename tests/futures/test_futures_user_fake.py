"""A futures Connector's user data against FakeBinance(product="usdm"/"coinm"): listenKey lifecycle
(create, keepalive, expiry, -1125), the /private route, events to on_order/on_position/..., a
dropped link, and the key never deleted at stop.

(Position/order reconciliation over REST needs the fake's futures REST endpoints, which the futures
REST work adds; it is covered here on the scripted transport: test_futures_user_data.py.)
"""

from __future__ import annotations

import queue
import threading
import time
from decimal import Decimal
from typing import Any, Iterator

import pytest
from _helpers import scaled, wait_until

import binance_conn as bc
from binance_conn.testing import FakeBinance

T0 = 1_700_000_000_000


@pytest.fixture(params=["usdm"])
def fake(request: Any) -> Iterator[FakeBinance]:
    with FakeBinance(seed=7, product=request.param) as f:
        yield f


def _conn(fake: FakeBinance, keepalive: float = 1800.0) -> bc.Connector:
    cfg = (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_health_check(1.0)
           .with_debounce(0.0).with_websocket(ping_interval=0.5, pong_timeout=0.5, handshake_timeout=2.0).build())
    conn = bc.Connector(cfg)
    conn._user.stream.keepalive_interval = keepalive  # test knob: the default is 1800 s
    return conn


def _order(oid: int, status: str = "NEW") -> dict:
    return {"e": "ORDER_TRADE_UPDATE", "E": T0, "T": T0, "o": {
        "s": "BTCUSDT", "c": f"c{oid}", "S": "BUY", "o": "LIMIT", "f": "GTX", "q": "1", "p": "100", "ap": "0",
        "sp": "0", "x": "NEW", "X": status, "i": oid, "l": "0", "z": "0", "L": "0", "N": "USDT", "n": "0", "T": T0,
        "t": 0, "b": "100", "a": "0", "m": False, "R": True, "wt": "CONTRACT_PRICE", "ot": "LIMIT", "ps": "LONG",
        "cp": False, "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER", "pm": "NONE", "gtd": 0,
        "er": "0"}}


def _account(pa: str, e_time: int) -> dict:
    return {"e": "ACCOUNT_UPDATE", "E": e_time, "T": e_time, "a": {"m": "ORDER",
            "B": [{"a": "USDT", "wb": "1000", "cw": "1000", "bc": "0"}],
            "P": [{"s": "BTCUSDT", "pa": pa, "ep": "100", "bep": "100", "cr": "0", "up": "0", "mt": "isolated",
                   "iw": "5", "ps": "LONG"}]}}


def _requests(fake: FakeBinance, method: str) -> int:
    return sum(1 for r in fake.request_log if r["path"] == "/fapi/v1/listenKey" and r["method"] == method)


def _push_until(fake: FakeBinance, event: dict, q: "queue.Queue[Any]") -> Any:
    """Push ``event`` until it arrives (a connection that just died may still take a push), return it."""
    deadline = time.monotonic() + scaled(5)
    while time.monotonic() < deadline:
        fake.push_futures_event(event)
        try:
            return q.get(timeout=0.2)
        except queue.Empty:
            continue
    raise AssertionError("event never arrived")


def test_user_data_over_the_private_route(fake: FakeBinance) -> None:
    orders: "queue.Queue[Any]" = queue.Queue()
    positions: "queue.Queue[Any]" = queue.Queue()
    conn = _conn(fake, keepalive=0.3)
    conn.on_order(queue=orders)
    conn.on_position(queue=positions)
    with conn:
        assert conn.wait_ready(scaled(10)), conn.stats()
        assert fake.wait_for_connections(1, scaled(5), path_prefix="/private/ws?listenKey=")
        [key] = fake.listen_keys()
        path = fake.connection_log[-1]["path"]
        assert path.startswith(f"/private/ws?listenKey={key}&events=ORDER_TRADE_UPDATE/")
        u = _push_until(fake, _order(5), orders)
        assert (u.order_id, u.position_side, u.reduce_only, u.time_in_force, u.is_reconciled) == (
            5, "LONG", True, "GTX", False)
        fake.push_futures_event(_account("0.5", T0 + 1))
        p = positions.get(timeout=scaled(5))
        assert (p.symbol, p.position_side, p.amount, p.margin_type) == ("BTCUSDT", "LONG", Decimal("0.5"), "ISOLATED")
        assert wait_until(lambda: _requests(fake, "PUT") >= 2, scaled(5))  # kept alive
        assert _requests(fake, "POST") == 1
    assert _requests(fake, "DELETE") == 0 and fake.listen_key_deletes == 0  # never deleted


def test_expiry_recreates_key_and_stream(fake: FakeBinance) -> None:
    orders: "queue.Queue[Any]" = queue.Queue()
    conn = _conn(fake)
    conn.on_order(queue=orders)
    with conn:
        assert conn.wait_ready(scaled(10))
        assert fake.wait_for_connections(1, scaled(5), path_prefix="/private")
        [old] = fake.listen_keys()
        assert fake.expire_listen_keys() == 1
        assert wait_until(lambda: bool(fake.listen_keys()) and fake.listen_keys() != [old], scaled(5))
        [new] = fake.listen_keys()
        assert wait_until(lambda: any(f"listenKey={new}" in c["path"] and c["closed_at"] is None
                                      for c in fake.connection_log), scaled(5))
        assert _push_until(fake, _order(6), orders).order_id == 6  # nothing lost after the recreation
        assert conn.stats()["user_data"]["keys_expired"] == 1


def test_keepalive_1125_recreates_key(fake: FakeBinance) -> None:
    conn = _conn(fake, keepalive=0.3)
    conn.on_order(lambda ev: None)
    with conn:
        assert conn.wait_ready(scaled(10))
        assert fake.wait_for_connections(1, scaled(5), path_prefix="/private")
        with fake._lk_lock:  # the key vanished server-side without an event (the PUT finds out)
            fake._listen_keys.clear()
        assert wait_until(lambda: _requests(fake, "POST") >= 2, scaled(5))
        assert wait_until(lambda: conn.stats()["user_data"]["keys_expired"] >= 1, scaled(5))
        assert wait_until(lambda: fake.open_connections("private") == 1 and conn.ready.is_set(), scaled(5))


def test_dropped_link_reconnects(fake: FakeBinance) -> None:
    orders: "queue.Queue[Any]" = queue.Queue()
    events: "queue.Queue[Any]" = queue.Queue()
    conn = _conn(fake)
    conn.on_order(queue=orders)
    conn.on_connection(queue=events)
    with conn:
        assert conn.wait_ready(scaled(10))
        assert fake.wait_for_connections(1, scaled(5), path_prefix="/private")
        assert fake.drop_connections("/private") == 1
        assert wait_until(lambda: conn.stats()["user_data"]["reconnects"] >= 1, scaled(5))
        assert _push_until(fake, _order(8), orders).order_id == 8
        seen = []
        while not events.empty():
            seen.append(events.get())
        assert any(e.session == "user_data" and e.state == bc.ConnectionState.RECONNECTING for e in seen), seen


def test_events_filter_and_other_topics(fake: FakeBinance) -> None:
    got: "queue.Queue[Any]" = queue.Queue()
    conn = _conn(fake)
    for sub in (conn.on_margin_call, conn.on_account_config, conn.on_algo_order, conn.on_trade_lite):
        sub(queue=got)
    with conn:
        assert conn.wait_ready(scaled(10))
        ev = _push_until(fake, {"e": "ACCOUNT_CONFIG_UPDATE", "E": T0, "T": T0, "ac": {"s": "BTCUSDT", "l": 25}}, got)
        assert isinstance(ev, bc.AccountConfigUpdate) and ev.leverage == 25
        fake.push_futures_event({"e": "MARGIN_CALL", "E": T0, "cw": "3", "p": []})
        assert isinstance(got.get(timeout=scaled(5)), bc.MarginCall)


def test_futures_methods_refused_on_spot() -> None:
    cfg = bc.Config.builder().with_api_key("k").with_api_secret("s").build()
    conn = bc.Connector(cfg)
    with pytest.raises(bc.ValidationError):
        conn.on_position(lambda ev: None)
    assert conn.positions() == []


def test_fake_listen_key_lifecycle_over_rest(fake: FakeBinance) -> None:
    import requests

    url = fake.rest_url + "/fapi/v1/listenKey"
    k1 = requests.post(url, timeout=5).json()["listenKey"]
    assert requests.post(url, timeout=5).json()["listenKey"] == k1  # one key per account
    assert requests.put(url, timeout=5).json() == {"listenKey": k1}
    assert requests.delete(url, timeout=5).json() == {}
    r = requests.put(url, timeout=5)
    assert r.status_code == 400 and r.json()["code"] == -1125
    assert requests.post(url, timeout=5).json()["listenKey"] != k1


def test_threads_end_at_stop(fake: FakeBinance) -> None:
    conn = _conn(fake)
    conn.on_order(lambda ev: None)
    conn.start()
    assert conn.wait_ready(scaled(10))
    assert conn.stop(timeout=scaled(5))
    assert not [t for t in threading.enumerate() if t.name.startswith("binance_conn-futures_user") and t.is_alive()]


def test_coinm_user_data_on_dstream_ws_path() -> None:
    orders: "queue.Queue[Any]" = queue.Queue()
    with FakeBinance(seed=7, product="coinm") as fake:
        conn = _conn(fake)
        conn.on_order(queue=orders)
        with conn:
            assert conn.wait_ready(scaled(10)), conn.stats()
            [key] = fake.listen_keys()
            assert fake.wait_for_connections(1, scaled(5), path_prefix=f"/ws/{key}")
            ev = _order(3)
            ev["i"] = "SfsR"  # COIN-M: the account alias
            assert _push_until(fake, ev, orders).account_alias == "SfsR"
        assert not any(r["method"] == "DELETE" for r in fake.request_log)
        assert any(r["path"] == "/dapi/v1/listenKey" for r in fake.request_log)


def test_fill_gives_order_and_position_updates_and_a_gap_is_reconciled(fake: FakeBinance) -> None:
    """The fake's futures engine publishes through fake.futures_events; a fill during an outage of the
    user stream comes back as reconciled order and position updates."""
    orders: "queue.Queue[Any]" = queue.Queue()
    positions: "queue.Queue[Any]" = queue.Queue()
    conn = _conn(fake)
    conn.on_order(queue=orders)
    conn.on_position(queue=positions)
    with conn:
        assert conn.wait_ready(scaled(10)), conn.stats()
        assert fake.wait_for_connections(1, scaled(5), path_prefix="/private")
        assert wait_until(lambda: conn.stats()["user_data"]["reconciliations"] >= 1, scaled(5))  # seeded
        conn.rest.new_order("BTCUSDT", "BUY", "MARKET", quantity="0.01")
        filled = None
        while filled is None:
            u = orders.get(timeout=scaled(5))
            filled = u if u.status == "FILLED" else None
        assert (filled.position_side, filled.is_reconciled, filled.filled_quantity) == (
            "BOTH", False, Decimal("0.01"))
        p = positions.get(timeout=scaled(5))
        assert (p.symbol, p.amount, p.is_reconciled) == ("BTCUSDT", Decimal("0.01"), False)
        assert [x.amount for x in conn.positions()] == [Decimal("0.01")]
        # a resting order, then an outage of the user stream during which it fills
        mark = fake.mark_price("BTCUSDT")
        placed = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="0.02", price=str(mark - 100),
                                     time_in_force="GTC")
        assert wait_until(lambda: not orders.empty(), scaled(5))
        fake.freeze("/private")
        fake.set_mark_price("BTCUSDT", mark - 200)  # crosses: the order fills, the events are lost
        fake.drop_connections("/private")
        rec = None
        while rec is None:
            u = orders.get(timeout=scaled(10))
            rec = u if u.is_reconciled and u.order_id == placed["orderId"] else None
        assert rec.status == "FILLED"
        pos = None
        while pos is None:
            x = positions.get(timeout=scaled(10))
            pos = x if x.is_reconciled else None
        assert pos.amount == Decimal("0.03")
