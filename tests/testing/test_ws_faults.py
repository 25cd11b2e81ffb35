"""WebSocket limits (section 9) and fault controls: message rate, connection attempts, server pings and
pong deadline, maximum lifetime with serverShutdown, drop / close / freeze / refuse / malformed."""

from __future__ import annotations

import json
import time

import pytest
import websocket
from fakehelpers import connect, recv_json, recv_until, scaled, wait_close

from binance_conn.testing import FakeBinance


def test_more_than_five_incoming_frames_per_second_closes_the_connection(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/btcusdt@trade")
    for _ in range(6):  # pings count too
        ws.ping(b"x")
    assert wait_close(ws) == 1008
    assert fake.wait_until(lambda: fake.rate_violations == 1, scaled(5))
    rec = fake.connection_log[-1]
    assert rec["rate_violation"] and "rate limit" in rec["close_reason"] and rec["messages_received"] >= 6


def test_pongs_count_toward_the_limit(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws")
    for _ in range(6):
        ws.pong(b"")
    assert wait_close(ws) == 1008
    assert fake.rate_violations == 1


def test_fixed_window_mode_also_closes_a_flood() -> None:
    with FakeBinance(rate_window="fixed") as fake:
        ws = connect(fake.ws_url + "/ws")
        for _ in range(20):  # at most two wall-clock seconds: one of them holds more than 5
            ws.ping(b"")
        assert wait_close(ws) == 1008 and fake.rate_violations == 1
    with pytest.raises(ValueError):
        FakeBinance(rate_window="other")


def test_five_frames_per_second_are_fine(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws")
    for _ in range(4):
        ws.ping(b"p")
    ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
    assert recv_json(ws) == {"result": [], "id": 1}
    assert fake.rate_violations == 0 and fake.open_connections() == 1
    ws.close()


def test_connection_attempts_per_window_are_refused_with_429() -> None:
    with FakeBinance(connection_attempts_limit=2, connection_window=60) as fake:
        a, b = connect(fake.ws_url + "/ws"), connect(fake.ws_url + "/ws-api/v3")
        with pytest.raises(websocket.WebSocketBadStatusException) as exc:
            connect(fake.ws_url + "/ws")
        assert exc.value.status_code == 429
        a.close()
        b.close()


def test_refuse_handshakes_then_accept_again(fake: FakeBinance) -> None:
    fake.refuse_handshakes(60)
    with pytest.raises(websocket.WebSocketBadStatusException) as exc:
        connect(fake.ws_url + "/ws")
    assert exc.value.status_code == 503
    fake.refuse_handshakes(0)
    connect(fake.ws_url + "/ws").close()


def test_server_pings_then_pong_deadline_disconnects_a_silent_client() -> None:
    with FakeBinance(ping_interval=0.1, pong_timeout=0.4, max_incoming_per_second=100) as fake:
        ws = connect(fake.ws_url + "/ws/btcusdt@trade")
        pings = []
        while len(pings) < 4:  # websocket-client answers each ping while we read
            opcode, frame = ws.recv_data_frame(True)
            if opcode == websocket.ABNF.OPCODE_PING:
                pings.append(frame.data)
        assert len(set(pings)) == 4  # each ping carries its own payload
        assert fake.open_connections() == 1
        # Stop reading: no more pongs. The server gives up after pong_timeout.
        assert fake.wait_until(lambda: fake.connection_log[-1]["close_reason"] == "pong timeout", scaled(5))
        ws.close()


def test_max_lifetime_is_announced_by_server_shutdown_then_closed() -> None:
    with FakeBinance(max_lifetime=scaled(0.8), shutdown_notice=scaled(0.4)) as fake:
        combined = connect(fake.ws_url + "/stream?streams=btcusdt@trade")
        raw = connect(fake.ws_url + "/ws/btcusdt@trade")
        t0 = time.monotonic()
        msg = recv_json(combined)
        assert msg["stream"] == "!serverShutdown" and msg["data"]["e"] == "serverShutdown"
        assert isinstance(msg["data"]["E"], int)
        assert recv_json(raw)["e"] == "serverShutdown"
        assert wait_close(combined) == 1001 and wait_close(raw) == 1001
        assert time.monotonic() - t0 >= scaled(0.3)
        assert [r["close_reason"] for r in fake.connection_log] == ["max lifetime", "max lifetime"]


def test_set_max_lifetime_applies_to_open_connections(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws")
    assert fake.wait_for_connections(1, scaled(5))
    fake.set_max_lifetime(0.01)
    assert recv_json(ws)["e"] == "serverShutdown"
    assert wait_close(ws) == 1001


def test_send_server_shutdown_on_demand_keeps_connection(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/btcusdt@trade")
    api = connect(fake.ws_url + "/ws-api/v3")
    assert fake.wait_for_connections(2, scaled(5))
    assert fake.send_server_shutdown() == 2
    assert recv_json(ws)["e"] == "serverShutdown"
    assert recv_json(api)["event"]["e"] == "serverShutdown"
    tid = fake.publish_trade("BTCUSDT", "1", "1")
    assert recv_json(ws)["t"] == tid
    ws.close()
    api.close()


def test_drop_connections_sends_no_close_frame(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/btcusdt@trade")
    other = connect(fake.ws_url + "/ws-api/v3")
    assert fake.wait_for_connections(2, scaled(5))
    assert fake.drop_connections(path_prefix="/ws/") == 1
    assert wait_close(ws) is None
    assert fake.wait_until(lambda: fake.open_connections() == 1, scaled(5))
    assert fake.connection_log[0]["close_reason"] == "dropped by test"
    assert fake.connection_log[0]["closed_at"] is not None
    other.close()


def test_close_connections_with_code(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws")
    assert fake.wait_for_connections(1, scaled(5))
    assert fake.close_connections(code=1012, reason="restart") == 1
    assert wait_close(ws) == 1012


def test_freeze_is_a_half_open_link_and_resume_recovers(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/btcusdt@trade")
    assert fake.wait_for_connections(1, scaled(5))
    fake.freeze()
    fake.publish_trade("BTCUSDT", "1", "1")
    ws.ping(b"anyone?")
    ws.settimeout(scaled(0.5))
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv_data_frame(True)  # neither the trade nor a pong arrives
    assert fake.open_connections() == 1  # TCP is still up
    fresh = connect(fake.ws_url + "/ws/btcusdt@trade")  # new connections are healthy
    assert fake.wait_for_connections(2, scaled(5))
    fake.resume()
    tid = fake.publish_trade("BTCUSDT", "2", "1")
    assert recv_until(ws, lambda m: m.get("t") == tid)["p"] == "2.00000000"
    assert recv_json(fresh)["t"] == tid
    ws.close()
    fresh.close()


def test_send_malformed_frame(fake: FakeBinance) -> None:
    ws = connect(fake.ws_url + "/ws/btcusdt@trade")
    assert fake.wait_for_connections(1, scaled(5))
    assert fake.send_malformed() == 1
    with pytest.raises(ValueError):
        json.loads(ws.recv())
    fake.send_malformed("[1, 2")
    assert ws.recv() == "[1, 2"
    api = connect(fake.ws_url + "/ws-api/v3")
    assert fake.wait_for_connections(2, scaled(5))
    assert fake.send_malformed("<html>", kind="api") == 1
    assert api.recv() == "<html>"
    ws.close()
    api.close()


def test_wait_helpers_time_out_honestly(fake: FakeBinance) -> None:
    t0 = time.monotonic()
    assert fake.wait_for_connections(1, timeout=0.2) is False
    assert fake.wait_for_subscriptions(["btcusdt@trade"], timeout=0.1) is False
    assert time.monotonic() - t0 >= 0.3
    ws = connect(fake.ws_url + "/ws/btcusdt@trade")
    assert fake.wait_for_connections(1, timeout=scaled(5), path_prefix="/ws/")
    assert not fake.wait_for_connections(1, timeout=0.05, path_prefix="/ws-api")
    assert fake.subscribed_streams() == ["btcusdt@trade"]
    ws.close()
