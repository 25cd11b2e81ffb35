"""Market-stream publishing for FakeBinance: ``publish_*`` helpers for tests and the simulated
random-walk market (reference section 9 payloads, via :mod:`._market`)."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ._futures_streams import delivers
from ._market import Market, SymbolState, TradeRec
from ._timeunit import event_to_micros
from ._util import JSON, dumps

if TYPE_CHECKING:
    from ._engine import Engine
    from ._util import Clock
    from ._ws import Session

__all__ = ["StreamsMixin"]

Num = Union[str, int, Decimal]
Levels = Sequence[Tuple[Num, Num]]
_WINDOWS = ("1h", "4h", "1d")  # rolling-window tickers


class StreamsMixin:
    """Mixed into FakeBinance; relies on its ``market``, ``engine``, ``clock`` and session registry."""

    market: Market
    engine: Engine
    clock: Clock
    market_rate: float
    product: str
    _stopping: threading.Event

    def _open_sessions(self, kind: Optional[str] = None, path_prefix: Optional[str] = None) -> List[Session]:
        raise NotImplementedError

    if TYPE_CHECKING:  # provided by BooksMixin (_books.py)
        def _emit_diff(self, subs: set[str], st: SymbolState, sym: str, first: int,
                       changes: Dict[str, List[Tuple[Decimal, Decimal]]], now: int) -> None: ...

        def _break_batches(self, symbol: str) -> None: ...

    # -- generic ----------------------------------------------------------------------------------
    def publish(self, stream: str, payload: Union[JSON, List[JSON], str]) -> int:
        """Send ``payload`` on ``stream`` to every connection subscribed to it (wrapped as
        ``{"stream","data"}`` on combined connections). A str payload is sent verbatim. Returns receivers."""
        text = payload if isinstance(payload, str) else dumps(payload)
        micro_text: Optional[str] = None  # the timeUnit=MICROSECOND version, made once when needed
        n = 0
        for s in self._open_sessions("stream"):
            with s.lock:
                hit = stream in s.streams
            if hit and (s.route is None and self.product != "usdm" or delivers(self.product, s.route, stream)):
                if s.micros and isinstance(payload, dict):
                    if micro_text is None:
                        micro_text = dumps(event_to_micros(payload))
                    s.enqueue(s.wrap(stream, micro_text))
                else:
                    s.enqueue(s.wrap(stream, text))
                n += 1
        return n

    def _subscribed(self) -> set[str]:
        out: set[str] = set()
        for s in self._open_sessions("stream"):
            with s.lock:
                out |= s.streams
        return out

    def _publish_lazy(self, subs: set[str], stream: str, build: Callable[[], JSON]) -> None:
        if stream in subs:
            self.publish(stream, build())

    # -- trades -----------------------------------------------------------------------------------
    def publish_trade(self, symbol: str, price: Num, qty: Num, buyer_maker: bool = False,
                      trade_time: Optional[int] = None) -> int:
        """Record a public trade (next trade id of ``symbol``) and emit @trade, @aggTrade and @kline_*.
        Returns the trade id."""
        with self.market.lock:
            st = self.market.get(symbol)
            rec = st.record_trade(Decimal(price), Decimal(qty), trade_time or self.clock.now_ms(), buyer_maker)
        self._emit_trade_rec(symbol, rec)
        return rec.id

    def _emit_trade_rec(self, symbol: str, rec: TradeRec) -> None:
        now = self.clock.now_ms()
        sym = symbol.lower()
        subs = self._subscribed()
        with self.market.lock:
            st = self.market.get(symbol)
            candles = st.update_candles(rec)
            self._publish_lazy(subs, f"{sym}@trade", lambda: Market.trade_payload(st, rec, now))
            self._publish_lazy(subs, f"{sym}@aggTrade", lambda: Market.agg_trade_payload(st, rec, now))
            for interval, cur, closed in candles:
                stream = f"{sym}@kline_{interval}"
                if stream in subs:
                    if closed is not None:
                        self.publish(stream, Market.kline_payload(st, interval, closed, True, now))
                    self.publish(stream, Market.kline_payload(st, interval, cur, False, now))

    def publish_kline(self, symbol: str, interval: str, open: Num, high: Num, low: Num, close: Num,
                      volume: Num = "0", closed: bool = False, open_time: Optional[int] = None) -> JSON:
        """Emit one kline event with the given OHLCV on ``<symbol>@kline_<interval>``; returns the payload."""
        from ._market import Candle, interval_end, interval_start

        now = self.clock.now_ms()
        t = interval_start(interval, open_time if open_time is not None else now)
        c = Candle(t, interval_end(interval, t), Decimal(open), Decimal(high), Decimal(low), Decimal(close),
                   Decimal(volume), Decimal(volume) * Decimal(close), 1, 0, 0)
        with self.market.lock:
            payload = Market.kline_payload(self.market.get(symbol), interval, c, closed, now)
        self.publish(f"{symbol.lower()}@kline_{interval}", payload)
        return payload

    # -- tickers ------------------------------------------------------------------------------------
    def publish_ticker(self, symbol: str, last_price: Optional[Num] = None, volume: Optional[Num] = None) -> JSON:
        """Optionally move the last price / volume, then emit @ticker, @miniTicker and !miniTicker@arr.
        Returns the @ticker payload."""
        now = self.clock.now_ms()
        with self.market.lock:
            st = self.market.get(symbol)
            if last_price is not None:
                st.last = Decimal(last_price)
                st.high, st.low = max(st.high, st.last), min(st.low, st.last)
            if volume is not None:
                st.volume = Decimal(volume)
                st.quote_volume = st.volume * st.last
            ticker = Market.ticker_payload(st, now)
            mini = Market.mini_ticker_payload(st, now)
        sym = symbol.lower()
        self.publish(f"{sym}@ticker", ticker)
        self.publish(f"{sym}@miniTicker", mini)
        self.publish("!miniTicker@arr", [mini])
        return ticker

    def publish_book_ticker(self, symbol: str, bid: Optional[Num] = None, bid_qty: Optional[Num] = None,
                            ask: Optional[Num] = None, ask_qty: Optional[Num] = None) -> JSON:
        """Set the best bid/ask (levels that would cross are removed) as one book update: emits @bookTicker
        and the matching @depth diff. Returns the bookTicker payload."""
        with self.market.lock:
            st = self.market.get(symbol)
            bids: List[Tuple[Decimal, Decimal]] = []
            asks: List[Tuple[Decimal, Decimal]] = []
            if bid is not None:
                b = Decimal(bid)
                bids = [(p, Decimal(0)) for p in st.bids if p > b]
                bids.append((b, Decimal(bid_qty if bid_qty is not None else st.bids.get(b, Decimal(1)))))
                asks += [(p, Decimal(0)) for p in st.asks if p <= b]
            if ask is not None:
                a = Decimal(ask)
                asks += [(p, Decimal(0)) for p in st.asks if p < a]
                asks.append((a, Decimal(ask_qty if ask_qty is not None else st.asks.get(a, Decimal(1)))))
                bids += [(p, Decimal(0)) for p in st.bids if p >= a]
        self._book_update(symbol, bids, asks)
        with self.market.lock:
            return Market.book_ticker_payload(self.market.get(symbol))

    # -- depth --------------------------------------------------------------------------------------
    def publish_depth(self, symbol: str, bids: Levels = (), asks: Levels = (), skip_ids: int = 0) -> Tuple[int, int]:
        """Apply absolute levels (qty 0 removes) to the book as one update and emit @depth, @depth@100ms
        (diff, ``U``..``u``), the partial @depthN streams and @bookTicker. ``skip_ids`` > 0 leaves a gap
        in the update ids (to test a client's resync). Returns (U, u)."""
        b = [(Decimal(p), Decimal(q)) for p, q in bids]
        a = [(Decimal(p), Decimal(q)) for p, q in asks]
        return self._book_update(symbol, b, a, skip_ids)

    def _book_update(self, symbol: str, bids: List[Tuple[Decimal, Decimal]], asks: List[Tuple[Decimal, Decimal]],
                     skip_ids: int = 0, ids: int = 1) -> Tuple[int, int]:
        if skip_ids > 0:
            self._break_batches(symbol)
        now = self.clock.now_ms()
        sym = symbol.lower()
        subs = self._subscribed()
        with self.market.lock:
            st = self.market.get(symbol)
            st.apply_levels(bids, asks)
            first = st.update_id + 1 + skip_ids
            st.update_id = first + max(1, ids) - 1
            self._emit_book(subs, st, sym, first, {"b": bids, "a": asks}, now)
            return first, st.update_id

    def _emit_book(self, subs: set[str], st: SymbolState, sym: str, first: int, changes: dict[str, List[Tuple[
            Decimal, Decimal]]], now: int) -> None:
        self._emit_diff(subs, st, sym, first, changes, now)
        self._publish_lazy(subs, f"{sym}@bookTicker", lambda: Market.book_ticker_payload(st))

    # -- simulated market ---------------------------------------------------------------------------
    def step_market(self, symbol: str) -> None:
        """One random-walk step for ``symbol``: the mid moves, the book re-centres (a depth diff), a trade
        prints, and resting orders the book now crosses fill. What the background market does at
        ``market_rate``; callable from tests for deterministic single steps."""
        now = self.clock.now_ms()
        subs = self._subscribed()
        with self.market.lock:
            st = self.market.get(symbol)
            spec = st.spec
            move = st.mid * Decimal(st.rng.gauss(0, 0.0004))
            ticks = (move / spec.tick_size).to_integral_value()
            st.mid = max(spec.tick_size * 10, st.mid + ticks * spec.tick_size)
            changes = st.regen_book()
            first = st.update_id + 1
            st.update_id += max(1, len(changes["b"]) + len(changes["a"]))
            self._emit_book(subs, st, symbol.lower(), first, changes, now)
            buyer_maker = st.rng.random() < 0.5
            price = st.best_bid()[0] if buyer_maker else st.best_ask()[0]
            qty = max(spec.min_qty, (st.bids.get(price) or st.asks.get(price) or spec.min_qty) / 10)
            qty = (qty / spec.step_size).to_integral_value() * spec.step_size or spec.min_qty
            rec = st.record_trade(price, qty, now, buyer_maker)
        self._emit_trade_rec(symbol, rec)
        self.engine.cross_resting(symbol)

    def publish_periodic(self) -> None:
        """The 1-second streams for every symbol: @ticker, @miniTicker, !miniTicker@arr, @avgPrice,
        the rolling windows @ticker_<1h|4h|1d> and !ticker_<1h|4h|1d>@arr."""
        now = self.clock.now_ms()
        subs = self._subscribed()
        minis = []
        rolling: dict[str, List[JSON]] = {w: [] for w in _WINDOWS}
        for symbol in list(self.market.state):
            sym = symbol.lower()
            with self.market.lock:
                st = self.market.get(symbol)
                if f"{sym}@ticker" in subs:
                    self.publish(f"{sym}@ticker", Market.ticker_payload(st, now))
                mini = Market.mini_ticker_payload(st, now)
                if f"{sym}@avgPrice" in subs:
                    self.publish(f"{sym}@avgPrice", Market.avg_price_payload(st, now))
                for w, rows in rolling.items():
                    if f"{sym}@ticker_{w}" in subs or f"!ticker_{w}@arr" in subs:
                        row = Market.rolling_ticker_payload(st, w, now)
                        rows.append(row)
                        if f"{sym}@ticker_{w}" in subs:
                            self.publish(f"{sym}@ticker_{w}", row)
            if f"{sym}@miniTicker" in subs:
                self.publish(f"{sym}@miniTicker", mini)
            minis.append(mini)
        self._publish_lazy(subs, "!miniTicker@arr", lambda: json.loads(dumps(minis)))
        for w, rows in rolling.items():
            if rows and f"!ticker_{w}@arr" in subs:
                self.publish(f"!ticker_{w}@arr", rows)

    def _market_loop(self) -> None:
        symbols = list(self.market.state)
        period = 1.0 / (self.market_rate * len(symbols))
        next_step = time.monotonic()
        next_periodic = next_step + 1.0
        i = 0
        while not self._stopping.wait(max(0.0, min(next_step, next_periodic) - time.monotonic())):
            now = time.monotonic()
            try:
                if now >= next_step:
                    self.step_market(symbols[i % len(symbols)])
                    i += 1
                    next_step += period
                    if next_step < now - 1.0:
                        next_step = now
                if now >= next_periodic:
                    self.publish_periodic()
                    next_periodic = now + 1.0
            except Exception:  # noqa: BLE001 - the simulation must never die silently mid-demo
                import logging

                logging.getLogger(__name__).exception("simulated market step failed")
