"""Stream-name grammar, in one place (reference §9).

Binance market stream names are ``<symbol>@<kind>[@<params>]`` with a
**lower-case** symbol.  Users may give symbols in any case; this module
validates and lower-cases them when building a name, and turns a name back
into ``(kind, symbol, params)`` for routing.  Kline intervals are
case-sensitive (``1m`` is a minute, ``1M`` a month) and validated.

Kinds (the ``kind`` of :class:`StreamInfo`):

=============  ==================================  ============================
kind           name                                params
=============  ==================================  ============================
trade          ``btcusdt@trade``                   ``()``
aggTrade       ``btcusdt@aggTrade``                ``()``
ticker         ``btcusdt@ticker``                  ``()``
miniTicker     ``btcusdt@miniTicker``              ``()``
bookTicker     ``btcusdt@bookTicker``              ``()``
kline          ``btcusdt@kline_1m[@+08:00]``       ``("1m",)`` or ``("1m", "+08:00")``
depth          ``btcusdt@depth[@100ms]``           ``(speed,)`` "" or "100ms"
partialDepth   ``btcusdt@depth<5|10|20>[@100ms]``  ``(levels, speed)``
serverShutdown ``!serverShutdown``                 ``()`` (symbol "")
avgPrice       ``btcusdt@avgPrice``                ``()``
referencePrice ``btcusdt@referencePrice``          ``()``
blockTrade     ``btcusdt@blockTrade``              ``()``
rollingTicker  ``btcusdt@ticker_<1h|4h|1d>``       ``(window,)``
allMiniTickers ``!miniTicker@arr``                 ``()`` (symbol "")
allRolling...  ``!ticker_<1h|4h|1d>@arr``          ``(window,)`` (symbol "")
=============  ==================================  ============================

That is every stream of the spot docs' ``web-socket-streams.md``.  Not here, on
purpose: ``!ticker@arr`` (deprecated 2025-11-14, removed from the docs 2025-12-02,
retired 2026-03-26: use ``!miniTicker@arr`` or the rolling windows) and
``!bookTicker`` (not in the docs).  The ``@+08:00`` kline offset is the only one the
docs define ("UTC+8"); any other offset raises ``ValidationError("timezone")``.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

from ..enums import KlineInterval
from ..errors import ValidationError

__all__ = [
    "TRADE",
    "AGG_TRADE",
    "TICKER",
    "MINI_TICKER",
    "BOOK_TICKER",
    "KLINE",
    "DEPTH",
    "PARTIAL_DEPTH",
    "SERVER_SHUTDOWN",
    "SERVER_SHUTDOWN_STREAM",
    "AVG_PRICE",
    "REFERENCE_PRICE",
    "BLOCK_TRADE",
    "ROLLING_TICKER",
    "ALL_MINI_TICKERS",
    "ALL_MINI_TICKERS_STREAM",
    "ALL_ROLLING_TICKERS",
    "WINDOWS",
    "TIMEZONES",
    "KINDS",
    "INTERVALS",
    "DEPTH_LEVELS",
    "StreamInfo",
    "normalize_symbol",
    "validate_interval",
    "build",
    "trade",
    "agg_trade",
    "ticker",
    "mini_ticker",
    "book_ticker",
    "kline",
    "depth",
    "partial_depth",
    "avg_price",
    "reference_price",
    "block_trade",
    "rolling_ticker",
    "all_mini_tickers",
    "all_rolling_tickers",
    "validate_window",
    "validate_timezone",
    "parse",
    "try_parse",
]

TRADE = "trade"
AGG_TRADE = "aggTrade"
TICKER = "ticker"
MINI_TICKER = "miniTicker"
BOOK_TICKER = "bookTicker"
KLINE = "kline"
DEPTH = "depth"
PARTIAL_DEPTH = "partialDepth"
SERVER_SHUTDOWN = "serverShutdown"
SERVER_SHUTDOWN_STREAM = "!serverShutdown"
AVG_PRICE = "avgPrice"
REFERENCE_PRICE = "referencePrice"
BLOCK_TRADE = "blockTrade"
ROLLING_TICKER = "rollingTicker"
ALL_MINI_TICKERS = "allMiniTickers"
ALL_MINI_TICKERS_STREAM = "!miniTicker@arr"
ALL_ROLLING_TICKERS = "allRollingTickers"

_SIMPLE_KINDS = frozenset({TRADE, AGG_TRADE, TICKER, MINI_TICKER, BOOK_TICKER, AVG_PRICE, REFERENCE_PRICE,
                           BLOCK_TRADE})
KINDS = frozenset(_SIMPLE_KINDS | {KLINE, DEPTH, PARTIAL_DEPTH, SERVER_SHUTDOWN, ROLLING_TICKER,
                                   ALL_MINI_TICKERS, ALL_ROLLING_TICKERS})
WINDOWS: Tuple[str, ...] = ("1h", "4h", "1d")
"""Rolling-window ticker sizes (``<symbol>@ticker_<window>``, ``!ticker_<window>@arr``)."""
TIMEZONES: Tuple[str, ...] = ("+08:00",)
"""Kline timezone offsets the docs define (``<symbol>@kline_<interval>@+08:00``)."""
INTERVALS: Tuple[str, ...] = tuple(m.value for m in KlineInterval)
_INTERVAL_SET = frozenset(INTERVALS)
DEPTH_LEVELS = (5, 10, 20)
_SPEEDS = ("", "100ms")


class StreamInfo(NamedTuple):
    """A parsed stream name: ``symbol`` is upper case ("" for ``!serverShutdown``)."""

    kind: str
    symbol: str
    params: Tuple[str, ...] = ()

    @property
    def interval(self) -> Optional[str]:
        """The kline interval, or None for other kinds."""
        return self.params[0] if self.kind == KLINE else None

    @property
    def levels(self) -> Optional[int]:
        """The partial-depth level count, or None for other kinds."""
        return int(self.params[0]) if self.kind == PARTIAL_DEPTH else None

    @property
    def window(self) -> Optional[str]:
        """The rolling-ticker window (``1h``, ``4h``, ``1d``), or None for other kinds."""
        return self.params[0] if self.kind in (ROLLING_TICKER, ALL_ROLLING_TICKERS) else None

    @property
    def timezone(self) -> Optional[str]:
        """A kline's timezone offset (``+08:00``), or None (UTC, or another kind)."""
        return self.params[1] if self.kind == KLINE and len(self.params) > 1 else None


def normalize_symbol(symbol: str) -> str:
    """Validate ``symbol`` (ASCII letters and digits, any case) and return it lower-cased.

    Raises:
        ValidationError: ``field="symbol"`` when empty or not alphanumeric.
    """
    if not isinstance(symbol, str) or not symbol or not symbol.isascii() or not symbol.isalnum():
        raise ValidationError("symbol", symbol, "non-empty ASCII letters and digits")
    return symbol.lower()


def validate_interval(interval: str) -> str:
    """Return ``interval`` if it is a Binance kline interval (case-sensitive).

    Raises:
        ValidationError: ``field="interval"`` otherwise.
    """
    value = interval.value if isinstance(interval, KlineInterval) else interval
    if not isinstance(value, str) or value not in _INTERVAL_SET:
        raise ValidationError("interval", interval, "one of " + ", ".join(INTERVALS) + " (case-sensitive)")
    return value


def validate_window(window: str) -> str:
    """Return ``window`` if it is a rolling-ticker window size (``1h``, ``4h``, ``1d``).

    Raises:
        ValidationError: ``field="window"`` otherwise.
    """
    if not isinstance(window, str) or window not in WINDOWS:
        raise ValidationError("window", window, "one of " + ", ".join(WINDOWS))
    return window


def validate_timezone(timezone: Optional[str]) -> Optional[str]:
    """Return a kline timezone offset the docs define (``+08:00``), or None for UTC.

    Raises:
        ValidationError: ``field="timezone"`` otherwise.
    """
    if timezone is None or timezone in TIMEZONES:
        return timezone
    raise ValidationError("timezone", timezone, "None (UTC) or " + ", ".join(TIMEZONES))


def _speed(speed: Optional[str]) -> str:
    # "1000ms" is the docs' update speed of the plain name ("<symbol>@depth"), not a name suffix
    value = "" if speed == "1000ms" else speed or ""
    if value not in _SPEEDS:
        raise ValidationError("speed", speed, "None or '1000ms' (the plain name, every second) or '100ms'")
    return value


def trade(symbol: str) -> str:
    """``<symbol>@trade``."""
    return normalize_symbol(symbol) + "@trade"


def agg_trade(symbol: str) -> str:
    """``<symbol>@aggTrade``."""
    return normalize_symbol(symbol) + "@aggTrade"


def ticker(symbol: str) -> str:
    """``<symbol>@ticker`` (24 h rolling window)."""
    return normalize_symbol(symbol) + "@ticker"


def mini_ticker(symbol: str) -> str:
    """``<symbol>@miniTicker``."""
    return normalize_symbol(symbol) + "@miniTicker"


def book_ticker(symbol: str) -> str:
    """``<symbol>@bookTicker``."""
    return normalize_symbol(symbol) + "@bookTicker"


def kline(symbol: str, interval: str, timezone: Optional[str] = None) -> str:
    """``<symbol>@kline_<interval>[@+08:00]``; the interval is case-sensitive."""
    tz = validate_timezone(timezone)
    name = normalize_symbol(symbol) + "@kline_" + validate_interval(interval)
    return name if tz is None else name + "@" + tz


def avg_price(symbol: str) -> str:
    """``<symbol>@avgPrice``."""
    return normalize_symbol(symbol) + "@avgPrice"


def reference_price(symbol: str) -> str:
    """``<symbol>@referencePrice``."""
    return normalize_symbol(symbol) + "@referencePrice"


def block_trade(symbol: str) -> str:
    """``<symbol>@blockTrade``."""
    return normalize_symbol(symbol) + "@blockTrade"


def rolling_ticker(symbol: str, window: str) -> str:
    """``<symbol>@ticker_<1h|4h|1d>`` (rolling-window statistics)."""
    return normalize_symbol(symbol) + "@ticker_" + validate_window(window)


def all_mini_tickers() -> str:
    """``!miniTicker@arr`` (every symbol whose mini ticker changed, one array per second)."""
    return ALL_MINI_TICKERS_STREAM


def all_rolling_tickers(window: str) -> str:
    """``!ticker_<1h|4h|1d>@arr`` (every symbol whose rolling window changed)."""
    return "!ticker_" + validate_window(window) + "@arr"


def depth(symbol: str, speed: Optional[str] = "100ms") -> str:
    """Diff depth: ``<symbol>@depth@100ms`` (default) or ``<symbol>@depth`` (``speed=None``)."""
    s = _speed(speed)
    return normalize_symbol(symbol) + ("@depth@" + s if s else "@depth")


def partial_depth(symbol: str, levels: int, speed: Optional[str] = "100ms") -> str:
    """Partial book: ``<symbol>@depth<5|10|20>[@100ms]``."""
    if levels not in DEPTH_LEVELS or isinstance(levels, bool):
        raise ValidationError("levels", levels, "one of 5, 10, 20")
    s = _speed(speed)
    name = normalize_symbol(symbol) + "@depth" + str(levels)
    return name + "@" + s if s else name


def build(kind: str, symbol: str, *params: str) -> str:
    """Build a stream name from a kind (see the module table) and its params."""
    if kind in _SIMPLE_KINDS and not params:
        return normalize_symbol(symbol) + "@" + kind
    if kind == KLINE and 1 <= len(params) <= 2:
        return kline(symbol, params[0], params[1] if len(params) > 1 else None)
    if kind == DEPTH and len(params) <= 1:
        return depth(symbol, params[0] if params else None)
    if kind == PARTIAL_DEPTH and 1 <= len(params) <= 2:
        try:
            levels = int(params[0])
        except (TypeError, ValueError):
            raise ValidationError("levels", params[0], "one of 5, 10, 20") from None
        return partial_depth(symbol, levels, params[1] if len(params) > 1 else None)
    if kind == ROLLING_TICKER and len(params) == 1:
        return rolling_ticker(symbol, params[0])
    if kind in (SERVER_SHUTDOWN, ALL_MINI_TICKERS, ALL_ROLLING_TICKERS):
        if symbol:
            raise ValidationError("symbol", symbol, "must be empty for an all-market stream")
        if kind == ALL_ROLLING_TICKERS and len(params) == 1:
            return all_rolling_tickers(params[0])
        if kind != ALL_ROLLING_TICKERS and not params:
            return SERVER_SHUTDOWN_STREAM if kind == SERVER_SHUTDOWN else ALL_MINI_TICKERS_STREAM
    raise ValidationError("kind", kind, "a known stream kind with matching params")


def try_parse(name: str) -> Optional[StreamInfo]:
    """Parse a stream name; None when it is not one this library understands."""
    if name[:1] == "!":
        if name == SERVER_SHUTDOWN_STREAM:
            return StreamInfo(SERVER_SHUTDOWN, "")
        if name == ALL_MINI_TICKERS_STREAM:
            return StreamInfo(ALL_MINI_TICKERS, "")
        if name.startswith("!ticker_") and name.endswith("@arr") and name[8:-4] in WINDOWS:
            return StreamInfo(ALL_ROLLING_TICKERS, "", (name[8:-4],))
        return None
    sym, sep, rest = name.partition("@")
    if not sep or not sym or not sym.isascii() or not sym.isalnum() or sym != sym.lower():
        return None
    symbol = sym.upper()
    if rest in _SIMPLE_KINDS:
        return StreamInfo(rest, symbol)
    if rest.startswith("kline_"):
        interval, at, tz = rest[6:].partition("@")
        if interval not in _INTERVAL_SET:
            return None
        if not at:
            return StreamInfo(KLINE, symbol, (interval,))
        return StreamInfo(KLINE, symbol, (interval, tz)) if tz in TIMEZONES else None
    if rest.startswith("ticker_"):
        return StreamInfo(ROLLING_TICKER, symbol, (rest[7:],)) if rest[7:] in WINDOWS else None
    if rest.startswith("depth"):
        head, _, speed = rest.partition("@")
        if speed not in _SPEEDS or (speed == "" and rest.endswith("@")):
            return None
        levels = head[5:]
        if levels == "":
            return StreamInfo(DEPTH, symbol, (speed,))
        if levels in ("5", "10", "20"):
            return StreamInfo(PARTIAL_DEPTH, symbol, (levels, speed))
    return None


def parse(name: str) -> StreamInfo:
    """Parse a stream name into ``(kind, symbol, params)``.

    Raises:
        ValidationError: ``field="stream"`` when the name is not understood.
    """
    info = try_parse(name)
    if info is None:
        raise ValidationError("stream", name, "a stream name such as 'btcusdt@trade'")
    return info
