"""FakeBinance(tls=True): https REST and wss streams / WebSocket API with a throwaway CA."""

from __future__ import annotations

import json
import ssl
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from _helpers import scaled
from websockets.sync.client import connect

from binance_conn.testing import FakeBinance

# Generous: under a loaded CI machine a TLS handshake with a fresh key can take seconds.
T = scaled(20.0)


def test_default_stays_plain() -> None:
    with FakeBinance(seed=1) as fake:
        assert fake.rest_url.startswith("http://") and fake.ws_url.startswith("ws://")
        with pytest.raises(RuntimeError):
            _ = fake.ca_file
        assert requests.get(fake.rest_url + "/api/v3/ping", timeout=T).json() == {}


def test_tls_serves_https_and_wss_trusting_ca_file() -> None:
    with FakeBinance(seed=1, tls=True) as fake:
        assert fake.rest_url.startswith("https://127.0.0.1:") and fake.ws_url.startswith("wss://127.0.0.1:")
        ca_file = Path(fake.ca_file)
        assert ca_file.is_file() and b"BEGIN CERTIFICATE" in ca_file.read_bytes()
        # REST over https, verified against the CA, by IP and by name (both on the certificate)
        assert requests.get(fake.rest_url + "/api/v3/ping", verify=str(ca_file), timeout=T).json() == {}
        localhost_rest, localhost_ws = fake.url_for("localhost")
        assert "serverTime" in requests.get(localhost_rest + "/api/v3/time", verify=str(ca_file), timeout=T).json()
        ctx = ssl.create_default_context(cafile=str(ca_file))
        # streams over wss
        with connect(fake.ws_url + "/ws", ssl=ctx, open_timeout=T) as ws:
            ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1}))
            assert json.loads(ws.recv(timeout=T)) == {"result": None, "id": 1}
            assert fake.wait_for_subscriptions(["btcusdt@trade"], timeout=T)
            fake.publish_trade("BTCUSDT", "100.5", "1")
            assert Decimal(json.loads(ws.recv(timeout=T))["p"]) == Decimal("100.5")
        # WebSocket API over wss
        with connect(localhost_ws + "/ws-api/v3", ssl=ctx, open_timeout=T) as ws:
            ws.send(json.dumps({"id": "t", "method": "time"}))
            answer = json.loads(ws.recv(timeout=T))
            assert answer["id"] == "t" and answer["status"] == 200 and "serverTime" in answer["result"]
    assert not ca_file.exists() and not ca_file.parent.exists()  # cleaned up on exit


def test_tls_refuses_clients_without_the_ca() -> None:
    with FakeBinance(seed=1, tls=True) as fake:
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(fake.rest_url + "/api/v3/ping", timeout=T)
        with pytest.raises(ssl.SSLCertVerificationError):
            with connect(fake.ws_url + "/ws", ssl=ssl.create_default_context(), open_timeout=T):
                pass
        # the fake keeps serving after refused handshakes
        assert requests.get(fake.rest_url + "/api/v3/ping", verify=fake.ca_file, timeout=T).json() == {}


def test_tls_hosts_name_the_certificate() -> None:
    with FakeBinance(seed=1, tls=True, tls_hosts=("binance.invalid",)) as fake:
        with pytest.raises(requests.exceptions.SSLError) as info:
            requests.get(fake.rest_url + "/api/v3/ping", verify=fake.ca_file, timeout=T)
        assert "match" in str(info.value) or "mismatch" in str(info.value)


def test_config_builder_of_a_tls_fake_trusts_its_ca() -> None:
    with FakeBinance(seed=1, tls=True) as fake:
        cfg = fake.config_builder().build()
        assert cfg.tls.ca_bundle == fake.ca_file
        assert cfg.exchange.rest_url.startswith("https://") and cfg.exchange.ws_api_url.startswith("wss://")

