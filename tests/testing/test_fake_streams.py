"""Market streams (section 9): URLs, payload shapes, combined wrapping, live control messages."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
import requests
import websocket
from fakehelpers import connect, recv_json, recv_n, recv_until, scaled

from binance_conn.testing import FakeBinance


@pytest.fixture
def loose() -> Iterator[FakeBinance]:
    """A fake that tolerates many control messages per second (the limit has its own tests)."""
    with FakeBinance(max_incoming_per_second=1000, max_streams=4, seed=3) as f:
        yield f


def test_raw_trade_and_agg_trade_payloads_with_monotonic_ids(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/btcusdt@trade/btcusdt@aggTrade")
    assert fake.wait_for_subscriptions(["btcusdt@trade", "btcusdt@aggTrade"], scaled(5))
    ids = [fake.publish_trade("BTCUSDT", "60000.5", "0.001", buyer_maker=True) for _ in range(3)]
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]
    msgs = recv_n(ws, 6)
    trades = [m for m in msgs if m["e"] == "trade"]
    aggs = [m for m in msgs if m["e"] == "aggTrade"]
    assert [t["t"] for t in trades] == ids
    assert set(trades[0]) == {"e", "E", "s", "t", "p", "q", "T", "m", "M"}
    assert trades[0]["s"] == "BTCUSDT" and trades[0]["p"] == "60000.50000000" and trades[0]["m"] is True
    assert set(aggs[0]) == {"e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"}
    assert [a["a"] for a in aggs] == sorted(a["a"] for a in aggs) and aggs[0]["f"] == ids[0]
    ws.close()


def test_kline_ticker_mini_ticker_book_ticker_shapes(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/ethusdt@kline_1m/ethusdt@ticker/ethusdt@miniTicker/ethusdt@bookTicker")
    assert fake.wait_for_connections(1, scaled(5))
    fake.publish_trade("ETHUSDT", "3001.00", "2")
    k = recv_json(ws)
    assert k["e"] == "kline" and set(k) == {"e", "E", "s", "k"}
    assert set(k["k"]) == {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}
    assert k["k"]["i"] == "1m" and k["k"]["c"] == "3001.00000000" and k["k"]["x"] is False
    assert k["k"]["T"] - k["k"]["t"] == 59_999
    closed = fake.publish_kline("ETHUSDT", "1m", "1", "3", "0.5", "2", "10", closed=True)
    assert recv_json(ws) == closed and closed["k"]["x"] is True and closed["k"]["h"] == "3.00000000"
    fake.publish_ticker("ETHUSDT", last_price="3010.5")
    t, mini = recv_n(ws, 2)
    assert t["e"] == "24hrTicker" and t["c"] == "3010.50000000"
    assert set(t) == {"e", "E", "s", "p", "P", "w", "x", "c", "Q", "b", "B", "a", "A", "o", "h", "l", "v", "q",
                      "O", "C", "F", "L", "n"}
    assert mini["e"] == "24hrMiniTicker" and set(mini) == {"e", "E", "s", "c", "o", "h", "l", "v", "q"}
    bt = fake.publish_book_ticker("ETHUSDT", bid="2999.00", bid_qty="5", ask="3002.00", ask_qty="6")
    got = recv_json(ws)
    assert got == bt == {"u": got["u"], "s": "ETHUSDT", "b": "2999.00000000", "B": "5.00000000",
                         "a": "3002.00000000", "A": "6.00000000"}
    bt2 = fake.publish_book_ticker("ETHUSDT", bid="2999.50")
    assert recv_json(ws)["u"] == bt2["u"] > bt["u"]
    ws.close()


def test_partial_and_diff_depth_follow_the_rest_snapshot(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/btcusdt@depth@100ms/btcusdt@depth5")
    assert fake.wait_for_connections(1, scaled(5))
    snap = requests.get(fake.rest_url + "/api/v3/depth", params={"symbol": "BTCUSDT"}, timeout=5).json()
    u1 = fake.publish_depth("BTCUSDT", bids=[("59000.00", "1.5")], asks=[("61000.00", "0")])
    msgs = recv_n(ws, 2)
    diff = next(m for m in msgs if m.get("e") == "depthUpdate")
    part = next(m for m in msgs if "lastUpdateId" in m)
    assert set(diff) == {"e", "E", "s", "U", "u", "b", "a"}
    assert diff["U"] == snap["lastUpdateId"] + 1 == u1[0] and diff["b"] == [["59000.00000000", "1.50000000"]]
    assert diff["a"] == [["61000.00000000", "0.00000000"]]
    assert set(part) == {"lastUpdateId", "bids", "asks"} and len(part["bids"]) == 5 and len(part["asks"]) == 5
    assert part["lastUpdateId"] == diff["u"]
    fake.publish_depth("BTCUSDT", bids=[("59000.00", "0")])
    nxt = recv_until(ws, lambda m: m.get("e") == "depthUpdate")
    assert nxt["U"] == diff["u"] + 1
    fake.publish_depth("BTCUSDT", asks=[("61000.00", "2")], skip_ids=5)
    gap = recv_until(ws, lambda m: m.get("e") == "depthUpdate")
    assert gap["U"] == nxt["u"] + 6
    ws.close()


def test_simulated_market_diff_depth_is_contiguous() -> None:
    with FakeBinance(market_rate=100, seed=5) as fake:
        ws = connect(fake.ws_url + "/ws/bnbusdt@depth")
        events = [recv_until(ws, lambda m: m.get("e") == "depthUpdate") for _ in range(10)]
        for a, b in zip(events, events[1:]):
            assert b["U"] == a["u"] + 1 and b["u"] >= b["U"]
        ws.close()


def test_combined_stream_wrapping_and_array_stream(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/stream?streams=btcusdt@trade/!miniTicker@arr")
    assert fake.wait_for_subscriptions(["btcusdt@trade", "!miniTicker@arr"], scaled(5))
    tid = fake.publish_trade("BTCUSDT", "1", "1")
    msg = recv_json(ws)
    assert set(msg) == {"stream", "data"} and msg["stream"] == "btcusdt@trade" and msg["data"]["t"] == tid
    fake.publish_ticker("BTCUSDT")
    arr = recv_json(ws)
    assert arr["stream"] == "!miniTicker@arr" and isinstance(arr["data"], list) and arr["data"][0]["s"] == "BTCUSDT"
    assert fake.publish("btcusdt@trade", {"custom": 1}) == 1
    assert recv_json(ws) == {"stream": "btcusdt@trade", "data": {"custom": 1}}
    ws.close()
    encoded = connect(fake.ws_url + "/stream?streams=ethusdt%40trade")  # URL-encoded names are accepted
    assert fake.wait_for_subscriptions(["ethusdt@trade"], scaled(5))
    encoded.close()


def control(ws: websocket.WebSocket, msg: Any) -> Any:
    ws.send(msg if isinstance(msg, str) else json.dumps(msg))
    return recv_until(ws, lambda m: isinstance(m, dict) and ("result" in m or "code" in m or "error" in m))


def test_live_subscribe_unsubscribe_list_and_properties(loose: FakeBinance) -> None:
    ws = connect(loose.ws_url + "/ws")
    assert control(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@depth"], "id": 1}) == \
        {"result": None, "id": 1}
    assert loose.wait_for_subscriptions(["btcusdt@trade", "btcusdt@depth"], scaled(5))
    assert control(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3}) == \
        {"result": ["btcusdt@depth", "btcusdt@trade"], "id": 3}
    assert control(ws, {"method": "UNSUBSCRIBE", "params": ["btcusdt@depth"], "id": 312}) == \
        {"result": None, "id": 312}
    assert control(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}) == {"result": False, "id": 2}
    tid = loose.publish_trade("BTCUSDT", "1", "1")
    assert recv_json(ws)["t"] == tid  # raw while combined is false
    assert control(ws, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}) == \
        {"result": None, "id": 5}
    assert control(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": "abc"}) == \
        {"result": True, "id": "abc"}
    tid = loose.publish_trade("BTCUSDT", "1", "1")
    wrapped = recv_json(ws)
    assert wrapped["stream"] == "btcusdt@trade" and wrapped["data"]["t"] == tid
    log = loose.connection_log[-1]
    assert log["streams"] == ["btcusdt@trade", "btcusdt@depth"] and log["messages_received"] == 6
    ws.close()


@pytest.mark.parametrize("msg,code,text", [
    ({"method": "SET_PROPERTY", "params": ["color", True], "id": 1}, 0, "Unknown property"),
    ({"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 1}, 1, "Invalid value type: expected Boolean"),
    ({"method": "GET_PROPERTY", "params": [5], "id": 1}, 2, "property name"),
    ({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": {"x": 1}}, 2, "request ID must be an unsigned"),
    ({"method": "SUBSCRIBEE", "params": [], "id": 1}, 2, "unknown variant"),
    ({"method": "GET_PROPERTY", "params": ["combined", 1], "id": 1}, 2, "too many parameters"),
    ({"params": [], "id": 1}, 2, "missing field `method`"),
    ({"method": "SUBSCRIBE", "params": ["btcusdt@nope"], "id": 1}, 2, "Invalid"),
    ({"method": "SUBSCRIBE", "params": ["BTCUSDT@trade"], "id": 1}, 2, "Invalid"),
    ("{not json", 3, "Invalid JSON: expected value at line 1 column 2"),
])
def test_control_errors(loose: FakeBinance, msg: Any, code: int, text: str) -> None:
    ws = connect(loose.ws_url + "/ws")
    reply = control(ws, msg)
    assert reply["code"] == code and text in reply["msg"] and "id" in reply
    ws.close()


def test_nested_control_error_style() -> None:
    with FakeBinance(control_error_style="nested") as fake:
        ws = connect(fake.ws_url + "/ws")
        reply = control(ws, {"method": "SET_PROPERTY", "params": ["color", True], "id": 9})
        assert reply == {"error": {"code": 0, "msg": "Unknown property"}, "id": 9}
        ws.close()


def test_stream_count_limit(loose: FakeBinance) -> None:
    ws = connect(loose.ws_url + "/ws/btcusdt@trade/ethusdt@trade/bnbusdt@trade")
    ok = control(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 1})
    assert ok == {"result": None, "id": 1}
    over = control(ws, {"method": "SUBSCRIBE", "params": ["ethusdt@depth"], "id": 2})
    assert over["code"] == 2 and "too many streams" in over["msg"]
    ws.close()
    streams = "/".join(f"{s}@{k}" for s in ("btcusdt", "ethusdt") for k in ("trade", "depth", "ticker"))
    with pytest.raises(websocket.WebSocketBadStatusException) as exc:
        connect(loose.ws_url + "/stream?streams=" + streams)
    assert exc.value.status_code == 400


def test_bad_paths_and_stream_names_fail_the_handshake(fake: FakeBinance) -> None:
    for path in ("/ws/btcusdt@bogus", "/ws/xxxusdt@trade", "/nowhere"):
        with pytest.raises(websocket.WebSocketBadStatusException) as exc:
            connect(fake.ws_url + path)
        assert exc.value.status_code in (400, 404)


def test_kline_rolls_over_with_a_closed_candle(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/btcusdt@kline_1m")
    assert fake.wait_for_connections(1, scaled(5))
    t0 = fake.now_ms() // 60_000 * 60_000
    fake.publish_trade("BTCUSDT", "100", "1", trade_time=t0 + 1)
    first = recv_json(ws)["k"]
    assert first["t"] == t0 and first["x"] is False and first["o"] == "100.00000000"
    fake.publish_trade("BTCUSDT", "101", "2", trade_time=t0 + 60_001)
    closed, current = recv_json(ws)["k"], recv_json(ws)["k"]
    assert closed["t"] == t0 and closed["x"] is True and closed["c"] == "100.00000000"
    assert current["t"] == t0 + 60_000 and current["x"] is False and current["n"] == 1 and current["v"] == "2.00000000"
    ws.close()


def test_simulated_market_sends_periodic_tickers() -> None:
    with FakeBinance(market_rate=20, seed=2) as fake:
        ws = connect(fake.ws_url + "/stream?streams=btcusdt@ticker/btcusdt@bookTicker/btcusdt@depth10@100ms")
        seen = set()
        while len(seen) < 3:
            seen.add(recv_until(ws, lambda m: True, timeout=3)["stream"])
        assert seen == {"btcusdt@ticker", "btcusdt@bookTicker", "btcusdt@depth10@100ms"}
        ws.close()


def test_resting_order_fills_when_the_simulated_market_crosses_it() -> None:
    with FakeBinance(seed=11) as fake:
        bid, _ = fake.best_prices("BTCUSDT")
        from fakehelpers import signed

        placed = signed(fake, "POST", "/api/v3/order", [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"),
                                                         ("timeInForce", "GTC"), ("quantity", "0.001"),
                                                         ("price", str(bid))]).json()
        assert placed["status"] == "NEW"
        for _ in range(200):
            fake.step_market("BTCUSDT")
            if fake.orders(open_only=True) == []:
                break
        assert fake.orders()[0]["status"] == "FILLED"
