"""Futures stream-name grammar and USD-M routes (futures digest §1.1, §4, §5).

USD-M streams live on two routed paths of ``fstream``: ``/public`` (order-book data:
book tickers, depth, RPI depth) and ``/market`` (everything else).  A stream on the wrong
path fails **silently** at Binance (handshake and SUBSCRIBE ack, then no frames), so every
shard of a USD-M connector carries streams of one route only and its URL names that route
(:func:`route_of`).  COIN-M (``dstream``) has no routes.

``@trade`` is not in Binance's USD-M list; ccxt and bytex put it on ``/public`` (digest
§1.1, unconfirmed) and so does this module.

Kinds (besides the spot kinds ``trade aggTrade ticker miniTicker bookTicker kline depth
partialDepth allMiniTickers`` of :mod:`.streams`, with futures symbols ``btcusd_perp``):

=================  =============================================  ==========================
kind               name                                           params
=================  =============================================  ==========================
markPrice          ``btcusdt@markPrice[@1s]``                     ``(speed,)`` "" or "1s"
allMarkPrices      ``!markPrice@arr[@1s]``                        ``(speed,)``
forceOrder         ``btcusdt@forceOrder``                         ``()``
allForceOrders     ``!forceOrder@arr``                            ``()``
continuousKline    ``btcusdt_perpetual@continuousKline_1m``       ``(contract_type, interval)``
compositeIndex     ``defiusdt@compositeIndex``                    ``()``
contractInfo       ``!contractInfo``                              ``()``
assetIndex         ``btcusd@assetIndex``                          ``()``
allAssetIndexes    ``!assetIndex@arr``                            ``()``
allTickers         ``!ticker@arr``                                ``()``
allBookTickers     ``!bookTicker``                                ``()``
rpiDepth           ``btcusdt@rpiDepth@500ms``                     ``()``
=================  =============================================  ==========================
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from ..errors import ValidationError
from . import streams as _s
from .streams import StreamInfo
from .subscriptions import StreamRegistry

__all__ = [
    "MARK_PRICE", "ALL_MARK_PRICES", "FORCE_ORDER", "ALL_FORCE_ORDERS", "CONTINUOUS_KLINE", "COMPOSITE_INDEX",
    "CONTRACT_INFO", "ASSET_INDEX", "ALL_ASSET_INDEXES", "ALL_TICKERS", "ALL_BOOK_TICKERS", "RPI_DEPTH",
    "PUBLIC", "MARKET", "CONTRACT_TYPES", "FUTURES_ONLY_KINDS", "SPOT_ONLY_KINDS", "MAX_STREAMS_PER_CONNECTION",
    "INCOMING_MESSAGES_PER_SECOND", "SERVER_PING_INTERVAL", "normalize_symbol", "mark_price", "all_mark_prices",
    "liquidation", "all_liquidations", "continuous_kline", "composite_index", "contract_info", "asset_index",
    "all_asset_indexes", "all_tickers", "all_book_tickers", "depth", "try_parse", "parse", "route_of",
    "check_stream", "make_registry", "route_prefix", "rest_path",
]

MARK_PRICE = "markPrice"
ALL_MARK_PRICES = "allMarkPrices"
FORCE_ORDER = "forceOrder"
ALL_FORCE_ORDERS = "allForceOrders"
CONTINUOUS_KLINE = "continuousKline"
COMPOSITE_INDEX = "compositeIndex"
CONTRACT_INFO = "contractInfo"
ASSET_INDEX = "assetIndex"
ALL_ASSET_INDEXES = "allAssetIndexes"
ALL_TICKERS = "allTickers"
ALL_BOOK_TICKERS = "allBookTickers"
RPI_DEPTH = "rpiDepth"

PUBLIC = "public"
MARKET = "market"

MAX_STREAMS_PER_CONNECTION = 200
"""Streams per futures connection.  Current docs say 1024, the 2020 docs, options, ccxt and
nautilus say 200 (digest §4, conflict 2): the conservative 200 is used (a config value lower
than this wins)."""
INCOMING_MESSAGES_PER_SECOND = 10
"""Binance's futures limit on messages a client sends per connection (spot: 5)."""
SERVER_PING_INTERVAL = 180.0
"""Binance pings futures stream connections every 3 minutes (pong within 10 minutes)."""

CONTRACT_TYPES: Tuple[str, ...] = ("perpetual", "current_quarter", "next_quarter", "tradifi_perpetual")

_SHARED = frozenset({_s.TRADE, _s.AGG_TRADE, _s.TICKER, _s.MINI_TICKER, _s.BOOK_TICKER, _s.KLINE, _s.DEPTH,
                     _s.PARTIAL_DEPTH, _s.ALL_MINI_TICKERS})
FUTURES_ONLY_KINDS = frozenset({MARK_PRICE, ALL_MARK_PRICES, FORCE_ORDER, ALL_FORCE_ORDERS, CONTINUOUS_KLINE,
                                COMPOSITE_INDEX, CONTRACT_INFO, ASSET_INDEX, ALL_ASSET_INDEXES, ALL_TICKERS,
                                ALL_BOOK_TICKERS, RPI_DEPTH})
SPOT_ONLY_KINDS = frozenset(_s.KINDS - _SHARED)
_COINM_MISSING = frozenset({COMPOSITE_INDEX, ASSET_INDEX, ALL_ASSET_INDEXES, RPI_DEPTH})

_PUBLIC_KINDS = frozenset({_s.BOOK_TICKER, ALL_BOOK_TICKERS, _s.DEPTH, _s.PARTIAL_DEPTH, RPI_DEPTH, _s.TRADE})
_DEPTH_SPEEDS = ("", "100ms", "500ms")
_SIMPLE = frozenset({_s.TRADE, _s.AGG_TRADE, _s.TICKER, _s.MINI_TICKER, _s.BOOK_TICKER, FORCE_ORDER,
                     COMPOSITE_INDEX, ASSET_INDEX})
_ARRAYS: Dict[str, StreamInfo] = {
    "!markPrice@arr": StreamInfo(ALL_MARK_PRICES, "", ("",)),
    "!markPrice@arr@1s": StreamInfo(ALL_MARK_PRICES, "", ("1s",)),
    "!forceOrder@arr": StreamInfo(ALL_FORCE_ORDERS, ""),
    "!contractInfo": StreamInfo(CONTRACT_INFO, ""),
    "!assetIndex@arr": StreamInfo(ALL_ASSET_INDEXES, ""),
    "!ticker@arr": StreamInfo(ALL_TICKERS, ""),
    "!bookTicker": StreamInfo(ALL_BOOK_TICKERS, ""),
    "!miniTicker@arr": StreamInfo(_s.ALL_MINI_TICKERS, ""),
}


def _is_symbol(sym: str) -> bool:
    return bool(sym) and sym.isascii() and sym.replace("_", "").isalnum() and sym[0] != "_" and sym[-1] != "_"


def normalize_symbol(symbol: str) -> str:
    """A futures symbol (letters, digits, inner ``_`` as in ``BTCUSD_PERP``), lower-cased.

    Raises:
        ValidationError: ``field="symbol"``.
    """
    if not isinstance(symbol, str) or not _is_symbol(symbol):
        raise ValidationError("symbol", symbol, "non-empty ASCII letters, digits and inner '_'")
    return symbol.lower()


def mark_price(symbol: str, speed: Optional[str] = None) -> str:
    """``<symbol>@markPrice`` (every 3 s) or ``<symbol>@markPrice@1s`` (``speed="1s"``)."""
    return normalize_symbol(symbol) + "@markPrice" + _mark_speed(speed)


def _mark_speed(speed: Optional[str]) -> str:
    if speed in (None, "", "3s", "3000ms"):
        return ""
    if speed in ("1s", "1000ms"):
        return "@1s"
    raise ValidationError("speed", speed, "None (every 3 s) or '1s'")


def all_mark_prices(speed: Optional[str] = None) -> str:
    """``!markPrice@arr[@1s]``."""
    return "!markPrice@arr" + _mark_speed(speed)


def liquidation(symbol: str) -> str:
    """``<symbol>@forceOrder``."""
    return normalize_symbol(symbol) + "@forceOrder"


def all_liquidations() -> str:
    """``!forceOrder@arr``."""
    return "!forceOrder@arr"


def continuous_kline(pair: str, contract_type: str, interval: str) -> str:
    """``<pair>_<contractType>@continuousKline_<interval>`` (contract type any case)."""
    if not isinstance(pair, str) or not pair.isascii() or not pair.isalnum():
        raise ValidationError("pair", pair, "non-empty ASCII letters and digits")
    ct = contract_type.lower() if isinstance(contract_type, str) else contract_type
    if ct not in CONTRACT_TYPES:
        raise ValidationError("contract_type", contract_type, "one of " + ", ".join(CONTRACT_TYPES))
    return f"{pair.lower()}_{ct}@continuousKline_{_s.validate_interval(interval)}"


def composite_index(symbol: str) -> str:
    """``<symbol>@compositeIndex``."""
    return normalize_symbol(symbol) + "@compositeIndex"


def contract_info() -> str:
    """``!contractInfo``."""
    return "!contractInfo"


def asset_index(symbol: str) -> str:
    """``<assetSymbol>@assetIndex``."""
    return normalize_symbol(symbol) + "@assetIndex"


def all_asset_indexes() -> str:
    """``!assetIndex@arr``."""
    return "!assetIndex@arr"


def all_tickers() -> str:
    """``!ticker@arr`` (still live on futures)."""
    return "!ticker@arr"


def all_book_tickers() -> str:
    """``!bookTicker``."""
    return "!bookTicker"


def depth(symbol: str, speed: Optional[str] = "100ms") -> str:
    """Futures diff depth: ``@depth`` (250 ms), ``@depth@500ms`` or ``@depth@100ms``."""
    value = "" if speed in (None, "250ms") else speed
    if value not in _DEPTH_SPEEDS:
        raise ValidationError("speed", speed, "None (250 ms), '500ms' or '100ms'")
    return normalize_symbol(symbol) + ("@depth@" + value if value else "@depth")


def try_parse(name: str, product: str = "usdm") -> Optional[StreamInfo]:
    """Parse a futures stream name of ``product`` (``usdm``/``coinm``); None when not understood."""
    if not isinstance(name, str):
        return None
    if name[:1] == "!":
        info = _ARRAYS.get(name)
    else:
        info = _parse_symbol_stream(name)
    if info is None or (product == "coinm" and info.kind in _COINM_MISSING):
        return None
    return info


def _parse_symbol_stream(name: str) -> Optional[StreamInfo]:
    sym, sep, rest = name.partition("@")
    if not sep or not _is_symbol(sym) or sym != sym.lower():
        return None
    symbol = sym.upper()
    if rest in _SIMPLE:
        return StreamInfo(rest, symbol)
    if rest in ("markPrice", "markPrice@1s"):
        return StreamInfo(MARK_PRICE, symbol, (rest[10:],))
    if rest.startswith("kline_"):
        return StreamInfo(_s.KLINE, symbol, (rest[6:],)) if rest[6:] in _s.INTERVALS else None
    if rest.startswith("continuousKline_"):
        interval = rest[16:]
        for ct in CONTRACT_TYPES:  # contract types hold "_" themselves ("current_quarter")
            pair = sym[:-len(ct) - 1]
            if sym.endswith("_" + ct) and pair.isalnum() and interval in _s.INTERVALS:
                return StreamInfo(CONTINUOUS_KLINE, pair.upper(), (ct.upper(), interval))
        return None
    if rest == "rpiDepth@500ms":
        return StreamInfo(RPI_DEPTH, symbol)
    if rest.startswith("depth"):
        head, at, speed = rest.partition("@")
        if speed not in _DEPTH_SPEEDS or (at and not speed):
            return None
        levels = head[5:]
        if levels == "":
            return StreamInfo(_s.DEPTH, symbol, (speed,))
        if levels in ("5", "10", "20"):
            return StreamInfo(_s.PARTIAL_DEPTH, symbol, (levels, speed))
    return None


def parse(name: str, product: str = "usdm") -> StreamInfo:
    """Parse a futures stream name.

    Raises:
        ValidationError: ``field="stream"`` when the name is not a ``product`` stream.
    """
    info = try_parse(name, product)
    if info is None:
        raise ValidationError("stream", name, f"a {product} futures stream name such as 'btcusdt@markPrice'")
    return info


def route_of(name: str) -> str:
    """The USD-M route of a stream name: ``"public"`` or ``"market"`` (digest §1.1 mapping).

    Unparseable names go to ``"market"`` (where Binance would at least reject them loudly
    rather than starve them on ``/public``)."""
    info = try_parse(name)
    return PUBLIC if info is not None and info.kind in _PUBLIC_KINDS else MARKET


def check_stream(product: str, name: str) -> None:
    """Refuse a stream the connector's product does not have (before anything is subscribed).

    Spot refuses the futures-only names (``@markPrice``, ``@forceOrder`` ...); a futures
    product refuses anything that is not one of its streams (``@avgPrice``, ``@ticker_1h``,
    kline offsets ...).

    Raises:
        ValidationError: ``field="stream"``.
    """
    if product == "spot":
        if _s.try_parse(name) is None and try_parse(name) is not None:
            raise ValidationError("stream", name, "a futures-only stream: use a binance-usdm/-coinm connector")
        return
    if try_parse(name, product) is None:
        raise ValidationError("stream", name, f"not a {product} futures stream (spot-only or unknown)")


def make_registry(product: str, max_streams_per_connection: int) -> StreamRegistry:
    """The market session's registry: spot as configured; futures capped at
    :data:`MAX_STREAMS_PER_CONNECTION`; USD-M sharded per route."""
    if product == "spot":
        return StreamRegistry(max_streams_per_connection)
    cap = min(max_streams_per_connection, MAX_STREAMS_PER_CONNECTION)
    return StreamRegistry(cap, route_of if product == "usdm" else None)


def route_prefix(product: str, registry: StreamRegistry, streams: List[str], shard: Optional[int]) -> str:
    """The path prefix of a shard's URL: ``/public`` or ``/market`` on USD-M, "" elsewhere."""
    if product != "usdm":
        return ""
    route = registry.route(shard) if shard is not None else None
    if route is None:
        route = route_of(streams[0]) if streams else MARKET
    return "/" + route


_REST_PREFIX = {"usdm": "/fapi/v1/", "coinm": "/dapi/v1/"}


def rest_path(product: str, path: str) -> str:
    """The product's path of a spot market-data REST path the market room uses (ping, aggTrades,
    historicalTrades, klines): ``/api/v3/x`` -> ``/fapi/v1/x`` (USD-M) or ``/dapi/v1/x`` (COIN-M)."""
    prefix = _REST_PREFIX.get(product)
    if prefix is None or not path.startswith("/api/v3/"):
        return path
    return prefix + path[8:]
