"""Futures market streams of the fake (``FakeBinance(product="usdm"|"coinm")``).

USD-M serves ``/public/...`` and ``/market/...`` (``/ws`` and ``/stream`` under each): a stream
subscribed on the wrong route is accepted and acknowledged but never fed, as Binance does since
2026-04-23; an unrouted legacy path (``/ws``, ``/stream``) only feeds public-class streams.
COIN-M serves plain ``/ws`` and ``/stream`` (no routes).  Publishers for the futures payloads of
the futures digest §5.  (The fake must not import ``_core``: the route table is its own copy.)
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, Union

from ._market import KLINE_INTERVALS, parse_stream
from ._util import JSON

if TYPE_CHECKING:
    from ._util import Clock

__all__ = ["FuturesStreamsMixin", "split_route", "stream_error", "delivers", "route_of", "futures_defaults"]

Num = Union[str, int, Decimal]
_ROUTES = ("public", "market")
_PUBLIC = re.compile(r"^(!bookTicker|[a-z0-9_]+@(bookTicker|trade|rpiDepth@500ms|depth(5|10|20)?(@(100|250|500)ms)?))$")
_SYMBOL_STREAM = re.compile(
    r"^(?P<sym>[a-z0-9]+(_[a-z0-9]+)*)@(?P<kind>aggTrade|trade|markPrice(@1s)?|kline_(?P<ki>\w+)|"
    r"continuousKline_(?P<ci>\w+)|miniTicker|ticker|bookTicker|forceOrder|compositeIndex|assetIndex|"
    r"depth(5|10|20)?(@(100|250|500)ms)?|rpiDepth@500ms)$")
_ARRAYS = frozenset({"!markPrice@arr", "!markPrice@arr@1s", "!miniTicker@arr", "!ticker@arr", "!bookTicker",
                     "!forceOrder@arr", "!contractInfo", "!assetIndex@arr"})


def futures_defaults(fake: Any, incoming: bool, ping: bool, pong: bool) -> None:
    """Futures limits where the constructor got the spot defaults: 10 incoming messages per second,
    a server ping every 3 minutes, 10 minutes to answer it (futures digest §4)."""
    if fake.product == "spot":
        return
    if incoming:
        fake.max_incoming_per_second = 10
    if ping:
        fake.ping_interval = 180.0
    if pong:
        fake.pong_timeout = 600.0


def route_of(stream: str) -> str:
    """``"public"`` or ``"market"``: where Binance serves ``stream`` on USD-M."""
    return "public" if _PUBLIC.match(stream) else "market"


def split_route(product: str, path: str) -> Tuple[Optional[str], str]:
    """``("public", "/stream")`` for ``/public/stream`` on USD-M; ``(None, path)`` otherwise."""
    if product == "usdm":
        for route in _ROUTES:
            prefix = "/" + route
            if path == prefix or path.startswith(prefix + "/"):
                return route, path[len(prefix):] or "/"
    return None, path


def stream_error(product: str, name: str, symbols: Sequence[str]) -> Optional[str]:
    """An error text for a stream name the fake cannot serve (None when it can)."""
    if product == "spot":
        return parse_stream(name, symbols)
    if name in _ARRAYS:
        return None
    m = _SYMBOL_STREAM.match(name)
    if m is None:
        return f"Invalid stream name: {name}"
    kind = m.group("kind")
    sym = m.group("sym")
    if kind.startswith("continuousKline_"):
        if not sym.endswith(("_perpetual", "_current_quarter", "_next_quarter", "_tradifi_perpetual")):
            return f"Invalid contract type in stream name: {name}"
    elif kind not in ("compositeIndex", "assetIndex") and sym.upper() not in symbols:
        return f"Invalid symbol in stream name: {name}"
    interval = m.group("ki") or m.group("ci")
    if interval is not None and interval not in KLINE_INTERVALS:
        return f"Invalid interval in stream name: {name}"
    return None


def delivers(product: str, route: Optional[str], stream: str) -> bool:
    """Whether a connection on ``route`` is fed ``stream`` (USD-M starves the wrong route)."""
    if product != "usdm":
        return True
    return route_of(stream) == (route or "public")  # unrouted legacy paths: public-class only


class FuturesStreamsMixin:
    """``publish_mark_price``, ``publish_liquidation``, ``publish_continuous_kline``,
    ``publish_futures_depth`` (mixed into FakeBinance; uses its ``publish`` and ``clock``)."""

    clock: Clock

    def publish(self, stream: str, payload: Union[JSON, List[JSON], str]) -> int:
        raise NotImplementedError

    def _now_ms(self) -> int:
        return int(self.clock.now_ms())

    def publish_mark_price(self, symbol: str, mark_price: Num, index_price: Optional[Num] = None,
                           funding_rate: Num = "0.0001", next_funding_time: Optional[int] = None,
                           estimated_settle_price: Optional[Num] = None, speed: str = "") -> JSON:
        """Emit ``<symbol>@markPrice[@1s]`` and the ``!markPrice@arr[@1s]`` element of ``symbol``."""
        now = self._now_ms()
        payload: JSON = {"e": "markPriceUpdate", "E": now, "s": symbol.upper(), "p": str(mark_price),
                         "ap": str(mark_price), "i": str(index_price if index_price is not None else mark_price),
                         "P": str(estimated_settle_price if estimated_settle_price is not None else mark_price),
                         "r": str(funding_rate),
                         "T": next_funding_time if next_funding_time is not None else (now // 28_800_000 + 1)
                         * 28_800_000, "st": 1}
        suffix = "@1s" if speed == "1s" else ""
        self.publish(symbol.lower() + "@markPrice" + suffix, payload)
        self.publish("!markPrice@arr" + suffix, [payload])
        return payload

    def publish_liquidation(self, symbol: str, side: str, price: Num, qty: Num, avg_price: Optional[Num] = None,
                            status: str = "FILLED") -> JSON:
        """Emit a ``forceOrder`` snapshot on ``<symbol>@forceOrder`` and ``!forceOrder@arr``."""
        now = self._now_ms()
        payload: JSON = {"e": "forceOrder", "E": now, "o": {
            "s": symbol.upper(), "S": side, "o": "LIMIT", "f": "IOC", "q": str(qty), "p": str(price),
            "ap": str(avg_price if avg_price is not None else price), "X": status, "l": str(qty), "z": str(qty),
            "T": now}}
        self.publish(symbol.lower() + "@forceOrder", payload)
        self.publish("!forceOrder@arr", payload)
        return payload

    def publish_continuous_kline(self, pair: str, contract_type: str, interval: str, open: Num, high: Num,
                                 low: Num, close: Num, volume: Num = "1", closed: bool = False,
                                 open_time: Optional[int] = None) -> JSON:
        """Emit ``<pair>_<contractType>@continuousKline_<interval>``."""
        now = self._now_ms()
        start = open_time if open_time is not None else now // 60_000 * 60_000
        payload: JSON = {"e": "continuous_kline", "E": now, "ps": pair.upper(), "ct": contract_type.upper(), "k": {
            "t": start, "T": start + 59_999, "i": interval, "f": 1, "L": 2, "o": str(open), "c": str(close),
            "h": str(high), "l": str(low), "v": str(volume), "n": 2, "x": closed, "q": "0", "V": "0", "Q": "0",
            "B": "0"}}
        self.publish(f"{pair.lower()}_{contract_type.lower()}@continuousKline_{interval}", payload)
        return payload

    def publish_futures_depth(self, symbol: str, first: int, last: int, previous: int,
                              bids: Sequence[Tuple[Num, Num]] = (), asks: Sequence[Tuple[Num, Num]] = (),
                              stream: Optional[str] = None) -> JSON:
        """Emit a futures ``depthUpdate`` (``U``/``u``/``pu``) on ``stream`` (default ``<symbol>@depth@100ms``)."""
        now = self._now_ms()
        payload: JSON = {"e": "depthUpdate", "E": now, "T": now - 1, "s": symbol.upper(), "U": first, "u": last,
                         "pu": previous, "b": [[str(p), str(q)] for p, q in bids],
                         "a": [[str(p), str(q)] for p, q in asks]}
        self.publish(stream or symbol.lower() + "@depth@100ms", payload)
        return payload
