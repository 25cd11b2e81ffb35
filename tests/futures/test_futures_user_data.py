"""The futures listenKey user-data session on the in-memory transport with a scripted REST client.

listenKey lifecycle (create, keepalive, -1125, listenKeyExpired, never deleted), reconnect with
reconciliation, positions seeded from REST then updated, COIN-M URLs, auth failure.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Optional

import pytest
from _helpers import scaled, wait_until

import binance_conn as bc
from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.memory import MemoryNetwork, MemoryTransport
from binance_conn._io.topics import CONNECTION_TOPIC, ERROR_TOPIC, GAP_TOPIC
from binance_conn._userdata.delivery import BALANCE_TOPIC, ORDER_TOPIC
from binance_conn._userdata.futures_delivery import (
    ACCOUNT_CONFIG_TOPIC,
    ALGO_ORDER_TOPIC,
    MARGIN_CALL_TOPIC,
    POSITION_TOPIC,
    TRADE_LITE_TOPIC,
)
from binance_conn._userdata.futures_session import FuturesUserSession
from binance_conn.config import Config
from binance_conn.errors import APIError, AuthenticationError

T0 = 1_700_000_000_000


class ScriptedRest:
    """The REST side: listenKey POST/PUT/DELETE (keyed calls via ``_call``) and signed GETs."""

    clock_offset_ms = 0

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: List[tuple] = []
        self.keys = ["KEY1", "KEY2", "KEY3", "KEY4", "KEY5"]
        self.key_index = 0
        self.put_error: Optional[BaseException] = None
        self.post_error: Optional[BaseException] = None
        self.positions: List[Dict[str, Any]] = []
        self.balances: List[Dict[str, Any]] = []
        self.orders: Dict[int, Dict[str, Any]] = {}

    def sync_clock(self, force: bool = False) -> int:
        return 0

    def _call(self, endpoint: Any, params: Any = None, *, timeout: Any = None, **kw: Any) -> Any:
        with self.lock:
            self.calls.append((endpoint.http, endpoint.path, endpoint.security))
            if endpoint.http == "POST":
                if self.post_error is not None:
                    raise self.post_error
                return {"listenKey": self.keys[self.key_index]}
            if endpoint.http == "PUT":
                if self.put_error is not None:
                    err, self.put_error = self.put_error, None
                    if isinstance(err, APIError) and err.binance_code == -1125:
                        self.key_index += 1  # the next POST makes a new key
                    raise err
                return {"listenKey": self.keys[self.key_index]}
            raise AssertionError(f"unexpected keyed call {endpoint}")

    def request(self, method: str, path: str, params: Any = None, signed: bool = False, timeout: Any = None) -> Any:
        with self.lock:
            self.calls.append((method, path, signed))
            assert signed, path
            if path.endswith("positionRisk"):
                return [dict(p) for p in self.positions]
            if path.endswith("balance"):
                return [dict(b) for b in self.balances]
            if path.endswith("openOrders"):
                return [dict(o) for o in self.orders.values() if o["status"] in ("NEW", "PARTIALLY_FILLED")
                        and o["symbol"] == params["symbol"]]
            if path.endswith("/order"):
                return dict(self.orders[params["orderId"]])
        raise AssertionError(f"unexpected REST call {method} {path}")

    def count(self, method: str, path_end: str = "listenKey") -> int:
        with self.lock:
            return sum(1 for c in self.calls if c[0] == method and c[1].endswith(path_end))


class H:
    def __init__(self, product: str = "usdm", keepalive: float = 1800.0, **ws: Any) -> None:
        self.rest = ScriptedRest()
        self.net = MemoryNetwork()
        exchange = "binance-coinm" if product == "coinm" else "binance-usdm"
        cfg = (Config.builder().with_exchange(exchange).with_api_key("k").with_api_secret("s")
               .with_ws_url("wss://f.test").with_backoff(base=0.05, max=0.2, jitter=0.0).with_debounce(0.0)
               .with_websocket(handshake_timeout=1.0, **({"ping_interval": 5.0, "pong_timeout": 5.0} | ws)).build())
        self.dispatcher = Dispatcher(error_topic=ERROR_TOPIC)
        self.q: Dict[str, "queue.Queue[Any]"] = {}
        for topic in (ORDER_TOPIC, BALANCE_TOPIC, POSITION_TOPIC, TRADE_LITE_TOPIC, MARGIN_CALL_TOPIC,
                      ACCOUNT_CONFIG_TOPIC, ALGO_ORDER_TOPIC, ERROR_TOPIC, CONNECTION_TOPIC, GAP_TOPIC):
            self.q[topic] = queue.Queue()
            self.dispatcher.subscribe(topic, queue=self.q[topic])
        self.s = FuturesUserSession(cfg, self.dispatcher, lambda: self.rest, transport_factory=self.net,
                                    keepalive_interval=keepalive)

    def start(self) -> MemoryTransport:
        self.dispatcher.start()
        self.s.topic_changed(ORDER_TOPIC, True)
        self.s.start()
        t = self.net.wait_for_connection(scaled(5))
        assert self.s.ready.wait(scaled(5)), self.s.stats()
        return t

    def stop(self) -> None:
        self.s.begin_stop()
        for th in self.s.threads():
            th.join(scaled(5))
        self.s.finish_stop("stopped")
        self.dispatcher.stop(deadline=time.monotonic() + 2)
        assert self.s.guard.crashes == 0, self.s.guard.last_crash

    def get(self, topic: str, timeout: float = 5.0) -> Any:
        return self.q[topic].get(timeout=scaled(timeout))

    def none(self, topic: str) -> bool:
        return self.q[topic].empty()


@pytest.fixture
def h() -> Iterator[H]:
    harness = H(keepalive=0.2)
    yield harness
    harness.stop()


def order_event(oid: int, status: str = "NEW", z: str = "0", e_time: int = T0, x: str = "NEW", t: int = 0) -> str:
    return json.dumps({"e": "ORDER_TRADE_UPDATE", "E": e_time, "T": e_time, "o": {
        "s": "BTCUSDT", "c": f"c{oid}", "S": "BUY", "o": "LIMIT", "f": "GTC", "q": "1", "p": "100", "ap": "0",
        "sp": "0", "x": x, "X": status, "i": oid, "l": z, "z": z, "L": "100", "N": "USDT", "n": "0", "T": e_time,
        "t": t, "b": "0", "a": "0", "m": False, "R": False, "wt": "CONTRACT_PRICE", "ot": "LIMIT", "ps": "BOTH",
        "cp": False, "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "NONE", "pm": "NONE", "gtd": 0, "er": "0"}})


def account_event(pa: str, e_time: int, ep: str = "100") -> str:
    return json.dumps({"e": "ACCOUNT_UPDATE", "E": e_time, "T": e_time, "a": {"m": "ORDER",
                       "B": [{"a": "USDT", "wb": "1000", "cw": "1000", "bc": "0"}],
                       "P": [{"s": "BTCUSDT", "pa": pa, "ep": ep, "bep": ep, "cr": "0", "up": "0", "mt": "cross",
                              "iw": "0", "ps": "BOTH"}]}})


def rest_position(amt: str, update_time: int, entry: str = "100") -> Dict[str, Any]:
    return {"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": amt, "entryPrice": entry,
            "breakEvenPrice": entry, "markPrice": "101", "unRealizedProfit": "0", "liquidationPrice": "0",
            "isolatedMargin": "0", "notional": "0", "marginAsset": "USDT", "isolatedWallet": "0",
            "updateTime": update_time}


def test_listen_key_created_kept_alive_and_url(h: H) -> None:
    t = h.start()
    assert t.url == ("wss://f.test/private/ws?listenKey=KEY1&events=ORDER_TRADE_UPDATE/TRADE_LITE/ACCOUNT_UPDATE/"
                     "MARGIN_CALL/ACCOUNT_CONFIG_UPDATE/ALGO_UPDATE/STRATEGY_UPDATE/GRID_UPDATE/"
                     "CONDITIONAL_ORDER_TRIGGER_REJECT")
    assert wait_until(lambda: h.rest.count("PUT") >= 3, scaled(5)), h.rest.calls
    assert h.rest.count("POST") == 1
    assert all(c[2] == "USER_STREAM" for c in h.rest.calls if c[1].endswith("listenKey"))  # key header, unsigned
    assert h.s.stats()["listen_key"] == "KEY1..."[:4] + "..."  # masked in stats


def test_default_keepalive_is_well_inside_the_hour() -> None:
    harness = H()
    assert harness.s.keepalive_interval == 1800.0


def test_key_never_deleted_at_stop() -> None:
    harness = H(keepalive=0.1)
    harness.start()
    assert wait_until(lambda: harness.rest.count("PUT") >= 1, scaled(5))
    harness.stop()
    assert harness.rest.count("DELETE") == 0


def test_seed_then_account_update_applies_and_drops_stale(h: H) -> None:
    h.rest.positions = [rest_position("1", T0 + 10)]
    h.rest.balances = [{"accountAlias": "x", "asset": "USDT", "balance": "1000", "crossWalletBalance": "1000",
                        "availableBalance": "900", "updateTime": T0}]
    t = h.start()
    assert wait_until(lambda: h.s.reconciliations >= 1, scaled(5))
    [p] = h.s.positions()
    assert (p.symbol, p.position_side, p.amount, p.is_reconciled) == ("BTCUSDT", "BOTH", Decimal("1"), True)
    assert h.none(POSITION_TOPIC)  # the seed publishes nothing
    t.feed_text(account_event("2", T0 + 20, ep="105"))
    ev = h.get(POSITION_TOPIC)
    assert (ev.amount, ev.entry_price, ev.is_reconciled, ev.reason, ev.margin_type) == (
        Decimal("2"), Decimal("105"), False, "ORDER", "CROSSED")
    bal = h.get(BALANCE_TOPIC)
    assert (bal.asset, bal.wallet_balance, bal.kind) == ("USDT", Decimal("1000"), "ACCOUNT_UPDATE")
    t.feed_text(account_event("5", T0 + 5))  # older than what is known: dropped
    t.feed_text(account_event("3", T0 + 30))
    assert h.get(POSITION_TOPIC).amount == Decimal("3")
    assert h.s.positions()[0].amount == Decimal("3")
    assert h.s.delivery.stale_positions == 1


def _gap_filled(h: H) -> Any:
    while True:
        ev = h.get(GAP_TOPIC)
        if ev.state == bc.GapState.FILLED:
            return ev


def test_listen_key_expired_recreates_and_reconciles(h: H) -> None:
    t = h.start()
    t.feed_text(order_event(7))
    assert h.get(ORDER_TOPIC).order_id == 7
    h.rest.orders[7] = {"symbol": "BTCUSDT", "orderId": 7, "clientOrderId": "c7", "side": "BUY", "type": "LIMIT",
                        "status": "FILLED", "price": "100", "origQty": "1", "executedQty": "1", "avgPrice": "100",
                        "positionSide": "BOTH", "reduceOnly": False, "updateTime": T0 + 50, "time": T0}
    h.rest.key_index = 1
    t.feed_text(json.dumps({"e": "listenKeyExpired", "E": str(T0), "listenKey": "KEY1"}))
    t2 = h.net.wait_for_connection(scaled(5))
    assert "listenKey=KEY2" in t2.url
    assert h.rest.count("POST") == 2 and h.s.keys_expired == 1 and h.s.keys_created == 2
    gap = _gap_filled(h)
    assert gap.kind == "user_data"
    upd = h.get(ORDER_TOPIC)
    assert (upd.order_id, upd.status, upd.is_reconciled, upd.position_side) == (7, "FILLED", True, "BOTH")
    t2.feed_text(order_event(8))  # the new link delivers
    assert h.get(ORDER_TOPIC).order_id == 8


def test_keepalive_1125_recreates_the_key(h: H) -> None:
    h.rest.put_error = APIError("This listenKey does not exist.", binance_code=-1125)
    t = h.start()
    t2 = h.net.wait_for_connection(scaled(5))
    assert t.aborted and "listenKey=KEY2" in t2.url
    assert h.s.stats()["keys_expired"] == 1
    assert wait_until(lambda: h.s.ready.is_set(), scaled(5))


def test_dropped_link_reconnects_and_reconciles_orders_and_positions(h: H) -> None:
    h.rest.positions = [rest_position("1", T0)]
    t = h.start()
    assert wait_until(lambda: h.s.reconciliations >= 1, scaled(5))
    t.feed_text(order_event(9, "NEW"))
    assert h.get(ORDER_TOPIC).status == "NEW"
    h.rest.orders[9] = {"symbol": "BTCUSDT", "orderId": 9, "clientOrderId": "c9", "side": "BUY", "type": "LIMIT",
                        "status": "PARTIALLY_FILLED", "price": "100", "origQty": "1", "executedQty": "0.4",
                        "positionSide": "BOTH", "updateTime": T0 + 60, "time": T0}
    h.rest.positions = [rest_position("1.4", T0 + 60)]
    t.drop()
    h.net.wait_for_connection(scaled(5))
    _gap_filled(h)
    upd = h.get(ORDER_TOPIC)
    assert (upd.status, upd.filled_quantity, upd.is_reconciled) == ("PARTIALLY_FILLED", Decimal("0.4"), True)
    pos = h.get(POSITION_TOPIC)
    assert (pos.amount, pos.is_reconciled, pos.mark_price) == (Decimal("1.4"), True, Decimal("101"))
    assert h.s.reconnects == 1


def test_position_closed_during_gap_is_reported_as_zero(h: H) -> None:
    h.rest.positions = [rest_position("2", T0)]
    t = h.start()
    assert wait_until(lambda: h.s.reconciliations >= 1, scaled(5))
    h.rest.positions = []
    t.drop()
    pos = h.get(POSITION_TOPIC)
    assert (pos.symbol, pos.amount, pos.is_reconciled) == ("BTCUSDT", Decimal("0"), True)
    assert h.s.positions() == []


def test_zombie_link_is_replaced() -> None:
    harness = H(ping_interval=0.2, pong_timeout=0.3)
    try:
        t = harness.start()
        t.freeze()
        t2 = harness.net.wait_for_connection(scaled(5))
        assert t2 is not t and harness.s.zombies >= 1
    finally:
        harness.stop()


def test_max_lifetime_rolls_over_make_before_break() -> None:
    """At max_lifetime a second link connects first, then the old one is closed: no outage, no
    reconciliation, and an event both links deliver during the overlap comes out once."""
    harness = H(max_lifetime=3.0)  # the overlap before the switch is a tenth of it
    try:
        t = harness.start()
        assert wait_until(lambda: harness.s.reconciliations >= 1, scaled(5))
        t2 = harness.net.wait_for_connection(scaled(15))
        assert t2 is not t and "listenKey=KEY1" in t2.url
        t.feed_text(order_event(12))  # sent while both links are up: the old one reads it ...
        t2.feed_text(order_event(12))  # ... and the new one has it too
        assert harness.get(ORDER_TOPIC).order_id == 12
        assert wait_until(lambda: t.close_sent and harness.s.rollovers >= 1, scaled(5))
        t2.feed_text(order_event(11), order_event(11))  # a duplicate inside the overlap window
        assert harness.get(ORDER_TOPIC).order_id == 11
        assert wait_until(lambda: harness.s.delivery.duplicates >= 2, scaled(2))
        assert harness.none(ORDER_TOPIC)
        st = harness.s.stats()
        assert (st["reconnects"], st["reconciliations"], st["ready"]) == (0, 1, True)
        assert not any(e.state != bc.ConnectionState.CONNECTED for e in list(harness.q[CONNECTION_TOPIC].queue))
    finally:
        harness.stop()


def test_coinm_uses_dapi_and_dstream_path() -> None:
    harness = H(product="coinm")
    try:
        t = harness.start()
        assert t.url == "wss://f.test/ws/KEY1"
        assert harness.rest.calls[0][:2] == ("POST", "/dapi/v1/listenKey")
        assert wait_until(lambda: any(c[1] == "/dapi/v1/positionRisk" for c in harness.rest.calls), scaled(5))
    finally:
        harness.stop()


def test_rejected_credentials_stop_the_session() -> None:
    harness = H()
    harness.rest.post_error = AuthenticationError("Invalid API-key", binance_code=-2015, http_status=401)
    try:
        harness.dispatcher.start()
        harness.s.topic_changed(ORDER_TOPIC, True)
        harness.s.start()
        err = harness.get(ERROR_TOPIC)
        assert isinstance(err, bc.AuthenticationError)
        assert wait_until(lambda: not any(th.name.endswith("reader") and th.is_alive() for th in harness.s.threads()),
                          scaled(5))
        assert harness.rest.count("POST") == 1  # no retry storm
    finally:
        harness.stop()


def test_post_failure_is_retried_with_backoff(h: H) -> None:
    h.rest.post_error = APIError("Internal error", binance_code=-1001, http_status=503)
    h.dispatcher.start()
    h.s.topic_changed(ORDER_TOPIC, True)
    h.s.start()
    assert wait_until(lambda: h.rest.count("POST") >= 2, scaled(5))
    h.rest.post_error = None
    h.net.wait_for_connection(scaled(5))
    assert h.s.ready.wait(scaled(5))


def test_malformed_and_unknown_events_are_counted_not_delivered(h: H) -> None:
    t = h.start()
    bad = json.loads(order_event(1))
    bad["o"]["p"] = "NaN"
    t.feed_text(json.dumps(bad), json.dumps({"e": "SOMETHING_NEW", "E": 1}), "not json", order_event(2))
    assert h.get(ORDER_TOPIC).order_id == 2
    st = h.s.stats()
    assert st["malformed"] == 2 and st["unknown_events"] == 1


def test_listen_key_requests_carry_the_api_key_and_no_signature() -> None:
    """With the real RestClient (``responses``): POST/PUT are keyed USER_STREAM calls, never signed."""
    import responses

    from binance_conn._rest.limiter import WeightLimiterRegistry
    from binance_conn.rest import RestClient

    cfg = (Config.builder().with_exchange("binance-usdm").with_rest_url("https://f.test.invalid")
           .with_api_key("KEYX").with_api_secret("s").build())
    client = RestClient(cfg, limiter_registry=WeightLimiterRegistry())
    session = FuturesUserSession(cfg, Dispatcher(error_topic=ERROR_TOPIC), lambda: client)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://f.test.invalid/fapi/v1/listenKey", json={"listenKey": "LK"})
        mock.add(responses.PUT, "https://f.test.invalid/fapi/v1/listenKey", json={"listenKey": "LK"})
        assert session._create_key() == "LK"
        session._keepalive()
        for call in mock.calls:
            assert call.request.headers["X-MBX-APIKEY"] == "KEYX"
            assert "signature" not in (call.request.url or "") and "signature" not in str(call.request.body or "")
    assert session.keepalives == 1
    client.close()


def test_restart_posts_again_and_reconciles() -> None:
    """stop() then start(): a fresh POST (a lapsed key is never reused) and a reconciliation of the gap."""
    harness = H()
    harness.rest.positions = [rest_position("1", T0)]
    try:
        harness.start()
        assert wait_until(lambda: harness.s.reconciliations >= 1, scaled(5))
        harness.s.begin_stop()
        for th in harness.s.threads():
            th.join(scaled(5))
        harness.s.finish_stop("stopped")
        harness.rest.positions = [rest_position("3", T0 + 100)]
        harness.s.start()
        t2 = harness.net.wait_for_connection(scaled(5))
        assert "listenKey=KEY1" in t2.url and harness.rest.count("POST") == 2
        pos = harness.get(POSITION_TOPIC)
        assert (pos.amount, pos.is_reconciled) == (Decimal("3"), True)
        assert harness.rest.count("DELETE") == 0
    finally:
        harness.stop()


def test_expiry_of_a_key_no_longer_used_is_ignored(h: H) -> None:
    t = h.start()
    t.feed_text(json.dumps({"e": "listenKeyExpired", "E": T0, "listenKey": "OLDKEY"}), order_event(4))
    assert h.get(ORDER_TOPIC).order_id == 4
    assert h.s.keys_expired == 0 and not t.aborted
