"""The WebSocket TLS trust a connector resolves is logged once per connector (its config), not once per
link (market streams, user data, the futures listenKey stream)."""

from __future__ import annotations

import logging
from typing import Any

import certifi
import pytest

import binance_conn as bc


@pytest.mark.parametrize("exchange", ["binance", "binance-usdm", "binance-coinm"])
def test_tls_trust_from_the_environment_is_logged_once(exchange: str, monkeypatch: Any, caplog: Any) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    with caplog.at_level(logging.INFO, logger="binance_conn.tls"):
        conn = bc.Connector(bc.ConfigBuilder().with_exchange(exchange).build())
    lines = [r.getMessage() for r in caplog.records if "TLS trust from" in r.getMessage()]
    assert lines == ["WebSocket TLS trust from REQUESTS_CA_BUNDLE"]
    # one trust for every link of the connector
    assert conn._user.transport_factory is conn._market.transport_factory
    assert conn.stop(5.0)
