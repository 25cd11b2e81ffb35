"""Simulated market data: symbols and their filters, an L2 book per symbol with update ids,
trades, candles and 24 h statistics, and the exact stream / REST payload shapes of the reference
(sections 6 and 9). Thread-safe: one lock guards all state."""

from __future__ import annotations

import bisect
import calendar
import datetime
import itertools
import random
import re
import threading
from collections import deque
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

from ._util import JSON, fmt

__all__ = ["SymbolSpec", "DEFAULT_SYMBOLS", "KNOWN_SYMBOLS", "KLINE_INTERVALS", "Market", "SymbolState",
           "parse_stream", "interval_start", "interval_end"]

KLINE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d",
                   "1w", "1M")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_MONDAY_MS = 4 * 86_400_000  # 1970-01-05, the first Monday: Binance weeks start on Monday
BOOK_LEVELS = 20
TRADE_HISTORY = 100_000  # trades kept per symbol for historicalTrades / aggTrades
KLINE_HISTORY = 2_000  # closed candles kept per symbol and interval for klines


@dataclass(frozen=True)
class SymbolSpec:
    """One tradable symbol and its PRICE_FILTER / LOT_SIZE / NOTIONAL filters (reference section 11)."""

    symbol: str
    base: str
    quote: str
    price: Decimal
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal = Decimal("9000")
    min_price: Decimal = Decimal("0")
    max_price: Decimal = Decimal("1000000")
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")

    @staticmethod
    def guess(symbol: str) -> SymbolSpec:
        """A generic spec for a symbol not in :data:`KNOWN_SYMBOLS` (quote asset guessed by suffix)."""
        symbol = symbol.upper()
        for quote in ("USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB", "EUR"):
            if symbol.endswith(quote) and len(symbol) > len(quote):
                break
        else:
            quote = symbol[-3:]
        return SymbolSpec(symbol, symbol[: -len(quote)], quote, Decimal("10.00"), Decimal("0.01"),
                          Decimal("0.001"), Decimal("0.001"), min_price=Decimal("0.01"))


def _d(s: str) -> Decimal:
    return Decimal(s)


KNOWN_SYMBOLS: Dict[str, SymbolSpec] = {
    s.symbol: s
    for s in (
        SymbolSpec("BTCUSDT", "BTC", "USDT", _d("60000.00"), _d("0.01"), _d("0.00001"), _d("0.00001"),
                   min_price=_d("0.01")),
        SymbolSpec("ETHUSDT", "ETH", "USDT", _d("3000.00"), _d("0.01"), _d("0.0001"), _d("0.0001"),
                   min_price=_d("0.01")),
        SymbolSpec("BNBUSDT", "BNB", "USDT", _d("600.00"), _d("0.01"), _d("0.001"), _d("0.001"),
                   min_price=_d("0.01")),
        SymbolSpec("LTCBTC", "LTC", "BTC", _d("0.001200"), _d("0.000001"), _d("0.001"), _d("0.001"),
                   max_qty=_d("100000"), min_price=_d("0.000001"), max_price=_d("1000"),
                   min_notional=_d("0.0001"), max_notional=_d("9000")),
        SymbolSpec("ETHBTC", "ETH", "BTC", _d("0.05000"), _d("0.00001"), _d("0.0001"), _d("0.0001"),
                   max_qty=_d("100000"), min_price=_d("0.00001"), max_price=_d("922327"),
                   min_notional=_d("0.0001"), max_notional=_d("9000")),
        SymbolSpec("BNBBTC", "BNB", "BTC", _d("0.010000"), _d("0.000001"), _d("0.001"), _d("0.001"),
                   max_qty=_d("100000"), min_price=_d("0.000001"), max_price=_d("100000"),
                   min_notional=_d("0.0001"), max_notional=_d("9000")),
    )
}
DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")

_STREAM_RE = re.compile(
    r"^(?P<sym>[a-z0-9]+)@(?P<kind>trade|aggTrade|miniTicker|ticker|bookTicker|avgPrice|referencePrice|"
    r"blockTrade|kline_(?P<ki>[0-9]+[smhdwM])(?:@\+0[0-9]:00)?|ticker_(?:1h|4h|1d)|"
    r"depth(?P<lvl>5|10|20)?(?:@100ms|@1000ms)?)$"
)
_ARR_RE = re.compile(r"^!(?:miniTicker@arr|ticker_(?:1h|4h|1d)@arr)$")


def parse_stream(name: str, symbols: Sequence[str]) -> Optional[str]:
    """Return an error text for an invalid stream name, or None when the fake can serve it."""
    if _ARR_RE.match(name):
        return None
    m = _STREAM_RE.match(name)
    if m is None:
        return f"Invalid stream name: {name}"
    if m.group("sym").upper() not in symbols:
        return f"Invalid symbol in stream name: {name}"
    ki = m.group("ki")
    if ki is not None and ki not in KLINE_INTERVALS:
        return f"Invalid interval in stream name: {name}"
    return None


def interval_start(interval: str, t: int) -> int:
    """Open time (ms, UTC) of the ``interval`` candle containing ``t``."""
    if interval == "1M":
        dt = datetime.datetime.fromtimestamp(t / 1000, tz=datetime.timezone.utc)
        return calendar.timegm((dt.year, dt.month, 1, 0, 0, 0)) * 1000
    n, unit = int(interval[:-1]), interval[-1]
    size = n * _UNIT_MS[unit]
    if unit == "w":
        return (t - _MONDAY_MS) // size * size + _MONDAY_MS
    return t // size * size


def interval_end(interval: str, start: int) -> int:
    """Close time (inclusive, ms) of the candle opening at ``start``."""
    if interval == "1M":
        dt = datetime.datetime.fromtimestamp(start / 1000, tz=datetime.timezone.utc)
        y, m = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
        return calendar.timegm((y, m, 1, 0, 0, 0)) * 1000 - 1
    return start + int(interval[:-1]) * _UNIT_MS[interval[-1]] - 1


@dataclass
class Candle:
    t: int
    T: int
    o: Decimal
    h: Decimal
    low: Decimal
    c: Decimal
    v: Decimal = Decimal(0)
    q: Decimal = Decimal(0)
    n: int = 0
    f: int = -1
    L: int = -1
    tv: Decimal = Decimal(0)
    tq: Decimal = Decimal(0)


@dataclass
class TradeRec:
    __slots__ = ("id", "price", "qty", "time", "buyer_maker", "agg_id")  # (dataclass slots=True needs 3.10)

    id: int
    price: Decimal
    qty: Decimal
    time: int
    buyer_maker: bool
    agg_id: int


class SymbolState:
    """Everything the fake knows about one symbol's market. Guarded by the Market lock."""

    def __init__(self, spec: SymbolSpec, now: int, rng: random.Random, depth: int = BOOK_LEVELS,
                 history: int = TRADE_HISTORY) -> None:
        self.spec = spec
        self.rng = rng
        self.depth = depth
        self.created = now
        self.mid = spec.price
        self.bids: Dict[Decimal, Decimal] = {}
        self.asks: Dict[Decimal, Decimal] = {}
        self.update_id = 1000
        self.next_trade_id = 1
        self.next_agg_id = 1
        self.trades: Deque[TradeRec] = deque(maxlen=history)
        self.candles: Dict[str, Candle] = {}
        self.closed: Dict[str, Deque[Candle]] = {i: deque(maxlen=KLINE_HISTORY) for i in KLINE_INTERVALS}
        self.open_price = spec.price
        self.high = spec.price
        self.low = spec.price
        self.last = spec.price
        self.last_qty = Decimal(0)
        self.volume = Decimal(0)
        self.quote_volume = Decimal(0)
        self.open_time = now
        self.first_id = -1
        self.regen_book()

    # -- book -------------------------------------------------------------------------------
    def _level_qty(self) -> Decimal:
        spec = self.spec
        notional = spec.min_notional * self.rng.randint(10, 1000)
        q = (notional / self.mid / spec.step_size).to_integral_value(ROUND_DOWN) * spec.step_size
        return max(q, spec.min_qty)

    def regen_book(self) -> Dict[str, List[Tuple[Decimal, Decimal]]]:
        """Re-centre the book on ``mid``; returns the changed levels (qty 0 = removed)."""
        tick = self.spec.tick_size
        best_bid = (self.mid / tick).to_integral_value(ROUND_DOWN) * tick
        if best_bid <= 0:
            best_bid = tick
        want_bids = {best_bid - i * tick for i in range(self.depth)}
        want_bids = {p for p in want_bids if p > 0}
        want_asks = {best_bid + (i + 1) * tick for i in range(self.depth)}
        changes: Dict[str, List[Tuple[Decimal, Decimal]]] = {"b": [], "a": []}
        for side, book, want in (("b", self.bids, want_bids), ("a", self.asks, want_asks)):
            for p in sorted(set(book) - want):
                del book[p]
                changes[side].append((p, Decimal(0)))
            for p in sorted(want - set(book)):
                book[p] = self._level_qty()
                changes[side].append((p, book[p]))
            if book and self.rng.random() < 0.5:
                p = self.rng.choice(sorted(book))
                book[p] = self._level_qty()
                changes[side].append((p, book[p]))
        return changes

    def apply_levels(self, bids: Sequence[Tuple[Decimal, Decimal]], asks: Sequence[Tuple[Decimal, Decimal]]) -> None:
        for book, levels in ((self.bids, bids), (self.asks, asks)):
            for p, q in levels:
                if q == 0:
                    book.pop(p, None)
                else:
                    book[p] = q

    def sorted_levels(self, side: str, limit: Optional[int] = None) -> List[Tuple[Decimal, Decimal]]:
        """(price, qty) of one side, best first, at most ``limit`` levels."""
        book = self.bids if side == "b" else self.asks
        prices = sorted(book, reverse=(side == "b"))
        return [(p, book[p]) for p in (prices if limit is None else prices[:limit])]

    def best_bid(self) -> Tuple[Decimal, Decimal]:
        if not self.bids:
            return Decimal(0), Decimal(0)
        p = max(self.bids)
        return p, self.bids[p]

    def best_ask(self) -> Tuple[Decimal, Decimal]:
        if not self.asks:
            return Decimal(0), Decimal(0)
        p = min(self.asks)
        return p, self.asks[p]

    def levels(self, side: str, limit: int) -> List[List[str]]:
        book = self.bids if side == "b" else self.asks
        prices = sorted(book, reverse=(side == "b"))[:limit]
        return [[fmt(p), fmt(book[p])] for p in prices]

    # -- trades -----------------------------------------------------------------------------
    def record_trade(self, price: Decimal, qty: Decimal, now: int, buyer_maker: bool) -> TradeRec:
        rec = TradeRec(self.next_trade_id, price, qty, now, buyer_maker, self.next_agg_id)
        self.next_trade_id += 1
        self.next_agg_id += 1
        self.trades.append(rec)
        if self.first_id < 0:
            self.first_id = rec.id
        self.last, self.last_qty = price, qty
        self.high, self.low = max(self.high, price), min(self.low, price)
        self.volume += qty
        self.quote_volume += price * qty
        return rec

    def trades_from(self, first_id: int, limit: int, agg: bool = False) -> List[TradeRec]:
        """Up to ``limit`` kept trades from trade id (``agg``: aggregate id) ``first_id`` on. History older
        than what is kept is gone: the answer then starts at the oldest kept trade."""
        if not self.trades:
            return []
        head = self.trades[0].agg_id if agg else self.trades[0].id
        start = max(0, first_id - head)
        return list(itertools.islice(self.trades, start, start + limit))

    def recent_trades(self, limit: int) -> List[TradeRec]:
        out = list(itertools.islice(reversed(self.trades), limit))
        out.reverse()
        return out

    def candle(self, interval: str, now: int) -> Tuple[Candle, Optional[Candle]]:
        """The current candle for ``interval`` (rolled over at ``now``) and the one it closed, if any."""
        start = interval_start(interval, now)
        cur = self.candles.get(interval)
        closed = None
        if cur is None or cur.t != start:
            closed = cur
            if closed is not None and closed.n:
                self.closed[interval].append(closed)
            p = self.last
            cur = Candle(start, interval_end(interval, start), p, p, p, p)
            self.candles[interval] = cur
        return cur, closed

    def update_candles(self, rec: TradeRec) -> List[Tuple[str, Candle, Optional[Candle]]]:
        out = []
        for interval in KLINE_INTERVALS:
            cur, closed = self.candle(interval, rec.time)
            if cur.n == 0:
                cur.o = cur.h = cur.low = rec.price
                cur.f = rec.id
            cur.h, cur.low, cur.c = max(cur.h, rec.price), min(cur.low, rec.price), rec.price
            cur.v += rec.qty
            cur.q += rec.qty * rec.price
            if not rec.buyer_maker:
                cur.tv += rec.qty
                cur.tq += rec.qty * rec.price
            cur.n += 1
            cur.L = rec.id
            out.append((interval, cur, closed))
        return out


class Market:
    """All symbols' simulated market state. Builders return plain JSON-ready dicts."""

    def __init__(self, specs: Sequence[SymbolSpec], now: int, seed: Optional[int] = None,
                 book_depth: int = BOOK_LEVELS, trade_history: int = TRADE_HISTORY) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.specs = {s.symbol: s for s in specs}
        self.state = {s.symbol: SymbolState(s, now, random.Random(self.rng.random()), book_depth, trade_history)
                      for s in specs}

    def get(self, symbol: str) -> SymbolState:
        try:
            return self.state[symbol.upper()]
        except KeyError:
            raise ValueError(f"the fake does not list {symbol!r}; known: {sorted(self.state)}") from None

    # -- stream payloads (reference section 9) ------------------------------------------------
    @staticmethod
    def trade_payload(st: SymbolState, rec: TradeRec, now: int) -> JSON:
        return {"e": "trade", "E": now, "s": st.spec.symbol, "t": rec.id, "p": fmt(rec.price), "q": fmt(rec.qty),
                "T": rec.time, "m": rec.buyer_maker, "M": True}

    @staticmethod
    def agg_trade_payload(st: SymbolState, rec: TradeRec, now: int) -> JSON:
        return {"e": "aggTrade", "E": now, "s": st.spec.symbol, "a": rec.agg_id, "p": fmt(rec.price),
                "q": fmt(rec.qty), "f": rec.id, "l": rec.id, "T": rec.time, "m": rec.buyer_maker, "M": True}

    @staticmethod
    def kline_payload(st: SymbolState, interval: str, c: Candle, closed: bool, now: int) -> JSON:
        return {"e": "kline", "E": now, "s": st.spec.symbol, "k": {
            "t": c.t, "T": c.T, "s": st.spec.symbol, "i": interval, "f": c.f, "L": c.L, "o": fmt(c.o),
            "c": fmt(c.c), "h": fmt(c.h), "l": fmt(c.low), "v": fmt(c.v), "n": c.n, "x": closed,
            "q": fmt(c.q), "V": fmt(c.tv), "Q": fmt(c.tq), "B": "0"}}

    @staticmethod
    def mini_ticker_payload(st: SymbolState, now: int) -> JSON:
        return {"e": "24hrMiniTicker", "E": now, "s": st.spec.symbol, "c": fmt(st.last), "o": fmt(st.open_price),
                "h": fmt(st.high), "l": fmt(st.low), "v": fmt(st.volume), "q": fmt(st.quote_volume)}

    @staticmethod
    def ticker_payload(st: SymbolState, now: int) -> JSON:
        change = st.last - st.open_price
        pct = (change / st.open_price * 100) if st.open_price else Decimal(0)
        wavg = st.quote_volume / st.volume if st.volume else st.last
        bp, bq = st.best_bid()
        ap, aq = st.best_ask()
        last_id = st.trades[-1].id if st.trades else -1
        return {"e": "24hrTicker", "E": now, "s": st.spec.symbol, "p": fmt(change), "P": fmt(pct, 3),
                "w": fmt(wavg), "x": fmt(st.open_price), "c": fmt(st.last), "Q": fmt(st.last_qty), "b": fmt(bp),
                "B": fmt(bq), "a": fmt(ap), "A": fmt(aq), "o": fmt(st.open_price), "h": fmt(st.high),
                "l": fmt(st.low), "v": fmt(st.volume), "q": fmt(st.quote_volume), "O": st.open_time, "C": now,
                "F": st.first_id, "L": last_id, "n": (last_id - st.first_id + 1) if st.first_id >= 0 else 0}

    @staticmethod
    def book_ticker_payload(st: SymbolState) -> JSON:
        bp, bq = st.best_bid()
        ap, aq = st.best_ask()
        return {"u": st.update_id, "s": st.spec.symbol, "b": fmt(bp), "B": fmt(bq), "a": fmt(ap), "A": fmt(aq)}

    @staticmethod
    def partial_depth_payload(st: SymbolState, levels: int) -> JSON:
        return {"lastUpdateId": st.update_id, "bids": st.levels("b", levels), "asks": st.levels("a", levels)}

    @staticmethod
    def diff_depth_payload(st: SymbolState, first: int, last: int, changes: Dict[str, List[Tuple[Decimal, Decimal]]],
                           now: int) -> JSON:
        return {"e": "depthUpdate", "E": now, "s": st.spec.symbol, "U": first, "u": last,
                "b": [[fmt(p), fmt(q)] for p, q in changes["b"]], "a": [[fmt(p), fmt(q)] for p, q in changes["a"]]}

    @staticmethod
    def rolling_ticker_payload(st: SymbolState, window: str, now: int) -> JSON:
        """``<symbol>@ticker_<window>`` (the 24 h figures of the simulation; the window opens on a minute)."""
        t = Market.ticker_payload(st, now)
        size = int(window[:-1]) * _UNIT_MS[window[-1]]
        return {"e": f"{window}Ticker", "E": now, "s": st.spec.symbol, "p": t["p"], "P": t["P"], "o": t["o"],
                "h": t["h"], "l": t["l"], "c": t["c"], "w": t["w"], "v": t["v"], "q": t["q"],
                "O": (now - size) // 60_000 * 60_000, "C": now, "F": t["F"], "L": t["L"], "n": t["n"]}

    @staticmethod
    def avg_price_payload(st: SymbolState, now: int) -> JSON:
        return {"e": "avgPrice", "E": now, "s": st.spec.symbol, "i": "5m", "w": fmt(st.last), "T": now}

    # -- REST payloads (reference section 6) --------------------------------------------------
    def klines(self, symbol: str, interval: str, limit: int, now: int, end_time: Optional[int]) -> List[List[Any]]:
        """``limit`` candles back from ``end_time``/now: the ones the fake published (kept, closed or current),
        empty ones (no trade, price of the previous close) since the fake began, synthetic ones before."""
        with self.lock:
            st = self.state[symbol]
            t_end = min(now, end_time) if end_time is not None else now
            recorded = {c.t: c for c in st.closed[interval]}
            cur = st.candles.get(interval)
            if cur is not None and cur.n:
                recorded[cur.t] = cur
            times = sorted(recorded)
            era = interval_start(interval, st.created)
            out: List[List[Any]] = []
            start = interval_start(interval, t_end)
            for _ in range(limit):
                c = recorded.get(start)
                if c is None and start >= era:
                    i = bisect.bisect_left(times, start)
                    p = recorded[times[i - 1]].c if i else st.spec.price
                    c = Candle(start, interval_end(interval, start), p, p, p, p)
                elif c is None:
                    c = self._synthetic(st, symbol, interval, start)
                out.append([c.t, fmt(c.o), fmt(c.h), fmt(c.low), fmt(c.c), fmt(c.v), c.T, fmt(c.q), c.n,
                            fmt(c.tv), fmt(c.tq), "0"])
                start = interval_start(interval, start - 1)
                if start < 0:
                    break
            out.reverse()
            return out

    @staticmethod
    def _synthetic(st: SymbolState, symbol: str, interval: str, start: int) -> Candle:
        """Deterministic synthetic history from before the fake began: flat around the current price."""
        r = random.Random(f"{symbol}/{interval}/{start}")
        base = st.last
        o = base * (1 + Decimal(r.randint(-50, 50)) / 10000)
        cl = base * (1 + Decimal(r.randint(-50, 50)) / 10000)
        h = max(o, cl) * (1 + Decimal(r.randint(0, 20)) / 10000)
        low = min(o, cl) * (1 - Decimal(r.randint(0, 20)) / 10000)
        vol = Decimal(r.randint(1, 1000))
        return Candle(start, interval_end(interval, start), o, h, low, cl, vol, vol * cl, r.randint(1, 500))

    def ticker_24hr(self, symbol: str, now: int, mini: bool = False) -> JSON:
        with self.lock:
            st = self.state[symbol]
            p = self.ticker_payload(st, now)
            full: JSON = {"symbol": symbol, "priceChange": p["p"], "priceChangePercent": p["P"],
                          "weightedAvgPrice": p["w"], "prevClosePrice": p["x"], "lastPrice": p["c"],
                          "lastQty": p["Q"], "bidPrice": p["b"], "bidQty": p["B"], "askPrice": p["a"],
                          "askQty": p["A"], "openPrice": p["o"], "highPrice": p["h"], "lowPrice": p["l"],
                          "volume": p["v"], "quoteVolume": p["q"], "openTime": p["O"], "closeTime": p["C"],
                          "firstId": p["F"], "lastId": p["L"], "count": p["n"]}
            if mini:
                for k in ("priceChange", "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastQty",
                          "bidPrice", "bidQty", "askPrice", "askQty"):
                    del full[k]
            return full
