"""Typed endpoint methods shared by the REST client and the WebSocket API client.

Each mixin method builds Binance-named parameters and calls ``self._call(endpoint,
params, ...)``; :class:`binance_conn.rest.RestClient` sends it over HTTP,
``conn.ws_api`` over the WebSocket API.  Sans-I/O: imports only ``_core`` and the
value modules.
"""

from .account import AccountApi
from .base import ApiBase
from .futures import FuturesApi
from .futures_market import FuturesMarketApi
from .market import MarketDataApi
from .trading import TradingApi

__all__ = ["ApiBase", "MarketDataApi", "TradingApi", "AccountApi", "FuturesApi", "FuturesMarketApi"]
