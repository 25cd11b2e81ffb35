"""``binance_conn.testing``: a loopback fake Binance (REST + market streams + WebSocket API) for tests,
demos and users' own test suites::

    from binance_conn.testing import FakeBinance

    with FakeBinance() as fake:
        cfg = fake.config_builder().build()
        ...

It speaks the wire format of the Binance reference and shares no code with the connector's parser.
"""

from __future__ import annotations

from ._auth import DEFAULT_API_KEY, DEFAULT_API_SECRET
from ._fake import FakeBinance, FaultRule
from ._market import KNOWN_SYMBOLS, SymbolSpec
from ._util import BinanceFault

__all__ = ["FakeBinance", "FaultRule", "SymbolSpec", "KNOWN_SYMBOLS", "BinanceFault", "DEFAULT_API_KEY",
           "DEFAULT_API_SECRET"]
