"""``binance_conn.testing``: a loopback fake Binance (REST + market streams + WebSocket API) for tests,
demos and users' own test suites::

    from binance_conn.testing import FakeBinance

    with FakeBinance() as fake:
        cfg = fake.config_builder().build()
        ...

In a pytest suite::

    import pytest
    from binance_conn.testing import FakeBinance

    @pytest.fixture
    def fake():
        with FakeBinance(ping_interval=1.0, pong_timeout=3.0) as f:   # every knob has a Binance default
            yield f

    def test_reconnects(fake):
        ...                                   # start your code against fake.rest_url / fake.ws_url
        assert fake.wait_for_subscriptions(["btcusdt@trade"], timeout=5)
        fake.drop_connections()               # abrupt TCP loss, no close frame
        assert fake.wait_for_connections(1, timeout=5)
        fake.publish_trade("BTCUSDT", "60000.00", "0.01")
        assert fake.rate_violations == 0      # never more than 5 frames/s on a stream connection

It speaks the wire format of the Binance reference and shares no code with the connector's parser
(``FakeBinance.replay`` reads recordings with the recorder's file naming, ``_io/recorder.py``).
``python -m binance_conn.testing`` runs it standalone with a simulated market.
"""

from __future__ import annotations

from ._auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from ._fake import FakeBinance, FaultRule
from ._market import KNOWN_SYMBOLS, SymbolSpec
from ._replay import Replay
from ._util import BinanceFault

__all__ = ["FakeBinance", "FaultRule", "SymbolSpec", "KNOWN_SYMBOLS", "BinanceFault", "DEFAULT_API_KEY",
           "DEFAULT_API_SECRET", "Replay"]
