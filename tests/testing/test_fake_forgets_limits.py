"""A stopped FakeBinance takes its client-side weight and ban state with it: a later fake that gets the
same port (the OS reuses them) starts clean (a 418 from one test once failed another test's fake)."""

from __future__ import annotations

import time

import pytest

import binance_conn as bc
from binance_conn._rest.limiter import DEFAULT_REGISTRY
from binance_conn.rest import RestClient
from binance_conn.testing import FakeBinance


def test_a_ban_from_a_stopped_fake_does_not_outlive_it() -> None:
    with FakeBinance(seed=1, market_rate=0) as fake:
        host = f"http://127.0.0.1:{fake.rest_url.rsplit(':', 1)[1]}"
        rest = RestClient(fake.config_builder().build())
        fake.fail_next(1, status=418, code=-1003, msg="IP banned", retry_after=60, path="/api/v3/exchangeInfo")
        with pytest.raises(bc.IPBannedError):
            rest.exchange_info()
        assert host in DEFAULT_REGISTRY.hosts()
        assert DEFAULT_REGISTRY.get(host).gate_error(time.time()) is not None  # closed for 60 s
        rest.close()
    assert host not in DEFAULT_REGISTRY.hosts()
    assert DEFAULT_REGISTRY.get(host).gate_error(time.time()) is None  # a new server on that port: clean
