from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from binance_conn._core.protocol import StreamProtocol
from binance_conn.errors import APIError
from binance_conn.events import DepthUpdate, Trade

FIX = Path(__file__).parent / "fixtures" / "ws_messages"


def raw(name: str) -> str:
    return (FIX / name).read_text().strip()


def combined(stream: str, name: str) -> str:
    return '{"stream":"%s","data":%s}' % (stream, raw(name))


def ack(request_id: int) -> str:
    return json.dumps({"result": None, "id": request_id})


def connected(streams: list[str], now: float = 0.0) -> StreamProtocol:
    p = StreamProtocol("binance")
    p.add_streams(streams)
    p.on_connected(now)
    return p


def test_subscribe_ack_ready() -> None:
    p = connected(["bnbbtc@trade", "bnbbtc@depth5@100ms"])
    assert not p.is_ready
    out = p.data_to_send(0.0)
    assert len(out) == 1
    msg = json.loads(out[0])
    assert msg == {"method": "SUBSCRIBE", "params": ["bnbbtc@trade", "bnbbtc@depth5@100ms"], "id": msg["id"]}
    assert p.receive_text(ack(msg["id"]), 0.1) == []
    assert p.is_ready
    assert p.control == 1


def test_events_routed_with_stream_name() -> None:
    p = connected(["bnbbtc@trade"])
    [(stream, ev)] = p.receive_text(combined("bnbbtc@trade", "trade.json"), 1.0)
    assert stream == "bnbbtc@trade" and isinstance(ev, Trade) and ev.price == Decimal("0.001")
    [(stream, ev)] = p.receive_text(combined("bnbbtc@depth10", "depth_partial.json"), 1.1)
    assert stream == "bnbbtc@depth10" and isinstance(ev, DepthUpdate) and ev.symbol == "BNBBTC"
    assert (p.frames, p.events) == (2, 2)
    assert p.health.last_data == 1.1


def test_raw_payload_gets_a_stream_name() -> None:
    p = connected(["bnbbtc@depth"])
    assert p.receive_text(raw("trade.json"), 1.0)[0][0] == "bnbbtc@trade"
    assert p.receive_text(raw("kline_1m.json"), 1.0)[0][0] == "bnbbtc@kline_1m"
    assert p.receive_text(raw("depthUpdate.json"), 1.0)[0][0] == "bnbbtc@depth"
    assert p.receive_text(raw("bookTicker.json"), 1.0)[0][0] == "bnbusdt@bookTicker"


def test_unknown_and_malformed_counted_not_raised() -> None:
    p = connected([])
    assert p.receive_text("garbage", 1.0) == []
    assert p.receive_text(combined("btcusdt@markPrice", "avgPrice.json"), 1.0) == []  # avgPrice: parsed now
    assert (p.malformed, p.unknown) == (1, 1)
    assert p.last_bad_frame is not None and "markPrice" in p.last_bad_frame[1]
    assert p.counters()["frames"] == 2


def test_subscription_error_surfaces_with_stream_names() -> None:
    p = connected(["bnbbtc@trade", "bnbbtc@bookTicker"])
    msg = json.loads(p.data_to_send(0.0)[0])
    p.receive_text(json.dumps({"code": 2, "msg": "Invalid request", "id": msg["id"]}), 0.2)
    errors = p.errors_received()
    assert len(errors) == 1
    err = errors[0]
    assert isinstance(err, APIError)
    assert "bnbbtc@trade" in str(err) and "Invalid request" in str(err)
    assert err.details["streams"] == ["bnbbtc@trade", "bnbbtc@bookTicker"]
    assert err.binance_code == 2 and err.exchange == "binance"
    assert p.errors_received() == []
    assert p.data_to_send(10.0) == []  # no retry storm
    p.receive_text(raw("error_invalid_json.json"), 0.3)
    [err2] = p.errors_received()
    assert err2.details["streams"] == []


def test_sends_are_paced_at_4_per_second() -> None:
    p = StreamProtocol("binance", max_params_per_message=1)
    p.add_streams([f"s{i}@trade" for i in range(10)])
    p.on_connected(0.0)
    sent: list[float] = []
    t = 0.0
    while t < 5.0:
        for _ in p.data_to_send(t):
            sent.append(t)
        t = round(t + 0.01, 2)
    assert len(sent) == 10
    for start in sent:
        assert len([x for x in sent if start <= x < start + 1.0]) <= 4
    assert p.requests_sent == 10


def test_replay_after_reconnect() -> None:
    p = connected(["a1@trade", "a2@trade"])
    msg = json.loads(p.data_to_send(0.0)[0])
    p.receive_text(ack(msg["id"]), 0.1)
    assert p.is_ready
    p.on_disconnected()
    assert not p.is_ready and p.data_to_send(1.0) == [] and p.next_wakeup(1.0) is None
    p.add_streams(["a3@trade"])
    p.on_connected(5.0)
    assert not p.is_ready
    replay = json.loads(p.data_to_send(5.0)[0])
    assert replay["params"] == ["a1@trade", "a2@trade", "a3@trade"]
    assert replay["id"] > msg["id"]
    p.receive_text(ack(msg["id"]), 5.1)  # stale ack from the old socket: ignored
    assert not p.is_ready
    p.receive_text(ack(replay["id"]), 5.2)
    assert p.is_ready


def test_initial_streams_from_url() -> None:
    p = StreamProtocol("binance")
    p.add_streams(["a@trade"])
    p.on_connected(0.0, initial_streams=["a@trade"])
    assert p.is_ready and p.data_to_send(0.0) == []


def test_ping_pong_and_zombie() -> None:
    p = connected([], 0.0)
    assert not p.take_ping(4.9)
    assert p.take_ping(5.0)
    assert not p.take_ping(5.1)  # outstanding
    assert p.is_zombie(7.9) is None  # default pong timeout 3 s (one set of defaults)
    p.on_pong(5.2)
    assert p.is_zombie(20.0) is None
    assert p.take_ping(20.0)
    assert p.pings_sent >= 1
    p2 = connected([], 0.0)
    assert p2.take_ping(5.0)
    assert p2.is_zombie(9.0) is not None


def test_ping_shares_the_send_budget() -> None:
    p = StreamProtocol("binance", max_params_per_message=1)
    p.add_streams(["a@trade", "b@trade"])
    p.on_connected(0.0)
    assert len(p.data_to_send(5.0)) == 1  # token used by a request
    assert not p.take_ping(5.0)  # ping due, but budget spent
    assert p.take_ping(5.25)


def test_pause_is_not_silence() -> None:
    p = connected([], 0.0)
    assert p.take_ping(5.0)
    p.pause(5.5)
    assert p.is_zombie(60.0) is None
    p.resume(60.0)
    assert p.is_zombie(61.0) is None
    assert p.is_zombie(63.5) is not None


def test_server_shutdown_and_lifetime() -> None:
    p = StreamProtocol("binance", max_lifetime=100.0)
    p.on_connected(0.0)
    assert not p.needs_rollover(50.0)
    p.receive_text(raw("serverShutdown_combined.json"), 50.0)
    assert p.shutdown_requested and p.needs_rollover(50.0)
    assert p.rollover_reason(50.0) == "server shutdown"
    p.on_connected(60.0)
    assert not p.shutdown_requested
    assert not p.needs_rollover(159.0)
    assert p.rollover_reason(160.0) == "max lifetime"
    assert p.next_wakeup(60.0) is not None
    p.receive_text(raw("serverShutdown.json"), 61.0)
    assert p.shutdown_requested


def test_next_wakeup_for_pending_sends() -> None:
    p = StreamProtocol("binance", max_params_per_message=1)
    p.add_streams(["a@trade", "b@trade"])
    p.on_connected(0.0)
    p.data_to_send(0.0)
    assert p.next_wakeup(0.0) == 0.25


def test_from_settings() -> None:
    ws = SimpleNamespace(send_rate=2.0, max_lifetime=10.0, ping_interval=3.0, pong_timeout=2.0,
                         silence_timeout=4.0, health_check_interval=7.0)
    p = StreamProtocol.from_settings("binance-testnet", ws)
    assert p.bucket.rate == 2.0 and p.max_lifetime == 10.0
    assert (p.health.ping_interval, p.health.pong_timeout, p.health.probe_interval) == (3.0, 2.0, 7.0)
    assert p.exchange == "binance-testnet"
    assert StreamProtocol.from_settings("x", object()).health.ping_interval == 5.0
    p.set_streams(["q@trade"])
    p.remove_streams(["q@trade"])
    assert p.streams == []
