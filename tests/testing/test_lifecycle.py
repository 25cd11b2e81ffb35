from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest
import requests
from _helpers import sigint_default
from fakehelpers import connect, recv_json, scaled

from binance_conn.testing import FakeBinance


def test_urls_are_loopback_and_threads_are_joined_on_exit() -> None:
    before = set(threading.enumerate())
    with FakeBinance(market_rate=50) as fake:
        assert fake.rest_url.startswith("http://127.0.0.1:")
        assert fake.ws_url.startswith("ws://127.0.0.1:")
        assert fake.ws_api_url == fake.ws_url
        session = requests.Session()  # keep-alive connection stays open across requests
        assert session.get(fake.rest_url + "/api/v3/ping", timeout=scaled(5)).json() == {}
        assert session.get(fake.rest_url + "/api/v3/time", timeout=scaled(5)).status_code == 200
        ws = connect(fake.ws_url + "/ws/btcusdt@trade")
        assert recv_json(ws)["e"] == "trade"  # the simulated market runs
        api = connect(fake.ws_api_url + "/ws-api/v3")
        assert fake.wait_for_connections(2, scaled(5))
        assert len([t for t in threading.enumerate() if t not in before]) > 3
    # stop() joined everything: nothing of the fake is left, even with clients still connected
    assert [t for t in threading.enumerate() if t not in before] == []
    ws.close()
    api.close()
    session.close()


def test_start_stop_methods_and_idempotent_stop() -> None:
    before = set(threading.enumerate())
    fake = FakeBinance()
    assert fake.start() is fake
    assert requests.get(fake.rest_url + "/api/v3/ping", timeout=scaled(5)).status_code == 200
    fake.stop()
    fake.stop()
    assert [t for t in threading.enumerate() if t not in before] == []
    with pytest.raises(requests.ConnectionError):
        requests.get(fake.rest_url + "/api/v3/ping", timeout=scaled(2))


def test_config_builder_points_at_the_fake(fake: FakeBinance) -> None:
    pytest.importorskip("binance_conn.config")
    cfg = fake.config_builder().build()
    text = repr(cfg)
    assert fake.api_secret not in text
    assert fake.rest_url.split(":")[-1] in str(cfg.exchange.rest_url)


def test_python_m_runs_standalone_and_prints_urls_and_keys() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "binance_conn.testing", "--market-rate", "2"],
                            stdout=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(5)]
        rest = lines[0].split()[-1]
        assert rest.startswith("http://127.0.0.1:")
        assert "API key:" in lines[3] and "API secret:" in lines[4]
        assert requests.get(rest + "/api/v3/ping", timeout=scaled(5)).json() == {}
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=scaled(10)) == 0


def test_stop_is_prompt_even_when_a_client_never_reads() -> None:
    import time

    before = set(threading.enumerate())
    fake = FakeBinance(seed=1).start()
    ws = connect(fake.ws_url + "/ws/btcusdt@depth20/btcusdt@depth")
    assert fake.wait_for_connections(1, scaled(5))
    for _ in range(3000):  # far more than the socket buffers hold: the writer blocks in send()
        fake.publish_depth("BTCUSDT", bids=[("59000.00", "1")])
    t0 = time.monotonic()
    fake.stop()
    assert time.monotonic() - t0 < scaled(5)
    assert [t for t in threading.enumerate() if t not in before] == []
    ws.shutdown()


def test_event_published_right_after_the_handshake_is_delivered(fake: FakeBinance) -> None:
    """The session exists before the 101 goes out: publishing the moment the client sees the
    connection open must reach it (users' tests do exactly this after wait_ready())."""
    import websocket

    for _ in range(300):
        ws = websocket.create_connection(f"{fake.ws_url}/stream?streams=btcusdt@trade", timeout=5)
        try:
            tid = fake.publish_trade("BTCUSDT", "100", "1")
            msg = ws.recv()
            assert f'"t":{tid}' in msg
        finally:
            ws.close()
