"""``python -m binance_conn.demo --futures`` (``make demo FUTURES=1``): a simulated USD-M market.

Mark price and funding lines (``on_mark_price``, route ``/market``), aggregated trades with gap
backfill, a MARKET fill and the position it opens (user data over a listenKey), a resting LIMIT
order that fills during an injected outage (every link dropped, reconnects refused for 1 s) and
comes back reconciled over REST, then everything cancelled and flattened, and the summary.
Offline only: it runs against :class:`binance_conn.testing.FakeBinance` ``(product="usdm")``.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from decimal import Decimal
from typing import Any, Dict, List, Optional, TextIO

from ._demo_util import fmt_decimal, percentile
from .connector import Connector
from .events import AggTrade, ConnectionEvent, GapEvent, MarkPrice, OrderUpdate, PositionUpdate

__all__ = ["run_futures", "FuturesSummary"]

_REFRESH = 0.5
_QTY = Decimal("0.010")


class FuturesSummary:
    """What a futures demo run saw; :meth:`lines` renders it (the spot summary's shape plus futures lines)."""

    def __init__(self) -> None:
        self.duration = 0.0
        self.connected = False
        self.counts: Dict[str, int] = {"agg_trade": 0, "mark_price": 0, "order": 0, "position": 0, "connection": 0}
        self.connection_states: List[str] = []
        self.reconnects = self.injected_drops = self.gaps = self.backfilled = self.unfilled = 0
        self.fills = self.reconciled = self.final_positions = 0
        self.latency_p50_ms: Optional[float] = None
        self.latency_p99_ms: Optional[float] = None
        self.stopped_cleanly = False

    def lines(self) -> List[str]:
        c = self.counts
        out = [
            f"Summary ({self.duration:.1f} s)",
            f"  events      agg_trade {c['agg_trade']}, mark_price {c['mark_price']}, order {c['order']}, "
            f"position {c['position']}, connection {c['connection']}",
            f"  connection  {' -> '.join(self.connection_states) or 'no events'}",
            f"  reconnects  {self.reconnects} (injected drops {self.injected_drops})",
            f"  gaps        {self.gaps} in the aggTrade streams, {self.backfilled} agg trades backfilled over REST, "
            f"{self.unfilled} left unfilled",
        ]
        if self.latency_p50_ms is not None:
            out.append(f"  latency     p50 {self.latency_p50_ms:.1f} ms, p99 {self.latency_p99_ms:.1f} ms "
                       "(exchange event time -> callback, ms clock)")
        out.append(f"  futures     {self.fills} fill(s), {self.reconciled} update(s) reconciled over REST "
                   f"after the outage, {self.final_positions} open position(s) at the end")
        out.append(f"  stopped     {'cleanly, every thread joined' if self.stopped_cleanly else 'NOT in time'}")
        return out


class _FuturesScreen:
    def __init__(self, symbols: List[str], out: TextIO, t0: float) -> None:
        self.symbols, self.out, self.t0 = symbols, out, t0
        self.lock = threading.Lock()
        self.summary = FuturesSummary()
        self.marks: Dict[str, MarkPrice] = {}
        self.trades = 0
        self.latencies: List[float] = []

    def say(self, text: str) -> None:
        with self.lock:
            self.out.write(f"[{time.monotonic() - self.t0:5.1f}s] {text}\n")
            self.out.flush()

    def on_agg_trade(self, ev: AggTrade) -> None:
        with self.lock:
            self.summary.counts["agg_trade"] += 1
            self.trades += 1
            if ev.is_backfilled:
                self.summary.backfilled += 1
            elif len(self.latencies) < 200_000:
                self.latencies.append(time.time() * 1000.0 - ev.event_time)

    def on_mark_price(self, ev: MarkPrice) -> None:
        with self.lock:
            self.summary.counts["mark_price"] += 1
            self.marks[ev.symbol] = ev

    def on_order(self, ev: OrderUpdate) -> None:
        with self.lock:
            self.summary.counts["order"] += 1
            self.summary.fills += ev.status == "FILLED" and not ev.is_reconciled
            self.summary.reconciled += ev.is_reconciled
        tag = "  (reconciled over REST after the outage)" if ev.is_reconciled else ""
        price = ev.last_fill_price if ev.status == "FILLED" and ev.last_fill_price else ev.price
        self.say(f"order       {ev.symbol} #{ev.order_id} {ev.side} {ev.order_type} {fmt_decimal(ev.quantity, 0)} "
                 f"@ {fmt_decimal(price)} {ev.status}{tag}")

    def on_position(self, ev: PositionUpdate) -> None:
        with self.lock:
            self.summary.counts["position"] += 1
            self.summary.reconciled += ev.is_reconciled
        tag = "  (reconciled)" if ev.is_reconciled else ""
        self.say(f"position    {ev.symbol} {ev.position_side} {fmt_decimal(ev.amount, 0)} "
                 f"entry {fmt_decimal(ev.entry_price)} uPnL {fmt_decimal(ev.unrealized_pnl)}{tag}")

    def on_gap(self, ev: GapEvent) -> None:
        state = getattr(ev.state, "value", str(ev.state))
        with self.lock:
            self.summary.gaps += state == "OPEN" and ev.stream != "user_data"  # user data: reconciled instead
            self.summary.unfilled += state == "UNFILLED"
        filled = f", {ev.filled} backfilled" if state != "OPEN" else ""
        self.say(f"gap         {state:<12} {ev.stream}: ids {ev.first_missing}..{ev.last_missing} "
                 f"missing ({ev.cause}){filled}")

    def on_connection(self, ev: ConnectionEvent) -> None:
        state = getattr(ev.state, "value", str(ev.state))
        with self.lock:
            self.summary.counts["connection"] += 1
            self.summary.connection_states.append(state)
        self.say(f"connection  {state:<12} {ev.session}: {ev.reason}")

    def refresh(self) -> None:
        with self.lock:
            marks = [self.marks[s] for s in self.symbols if s in self.marks]
            n, self.trades = self.trades, 0
        parts = [f"{m.symbol} {fmt_decimal(m.mark_price)} "
                 f"funding {fmt_decimal((m.funding_rate or Decimal(0)) * 100, 4)}% "
                 f"next {time.strftime('%H:%M', time.gmtime(m.next_funding_time / 1000))} UTC" for m in marks]
        if parts:
            self.say("mark        " + "  |  ".join(parts) + f"  (+{n} agg trades)")


class _MarkDriver(threading.Thread):
    """The fake's mark price: a random walk per symbol, published (with funding) twice a second."""

    def __init__(self, fake: Any, symbols: List[str]) -> None:
        super().__init__(name="demo-mark-price", daemon=True)
        self.fake, self.symbols = fake, symbols
        self.lock = threading.Lock()
        self.mark = {s: Decimal(fake.mark_price(s)) for s in symbols}
        self.done = threading.Event()
        self.rnd = random.Random(7)

    def set(self, symbol: str, price: Decimal) -> None:
        with self.lock:
            self.mark[symbol] = price
            self.fake.set_mark_price(symbol, price)

    def run(self) -> None:
        while not self.done.wait(_REFRESH):
            for s in self.symbols:
                with self.lock:
                    m = self.mark[s] = max(Decimal(1), self.mark[s] * (1 + Decimal(self.rnd.randint(-5, 5)) / 10000))
                    m = m.quantize(Decimal("0.01"))
                    self.fake.set_mark_price(s, m)
                self.fake.publish_mark_price(s, m, m + Decimal("1.5"), funding_rate="0.0001")


def run_futures(args: argparse.Namespace, out: TextIO) -> FuturesSummary:
    """The futures mode of the demo (``--futures``); ``args`` as parsed by ``binance_conn.demo``."""
    from .testing import FakeBinance  # the demo's one allowed import of the test fake

    fake = FakeBinance(args.symbols, product="usdm", market_rate=args.rate).start()
    cfg = (fake.config_builder().with_debounce(0).with_backoff(base=0.2, max=2.0, jitter=0.2)
           .with_websocket(ping_interval=1.0, pong_timeout=1.0).build())
    t0 = time.monotonic()
    screen = _FuturesScreen(args.symbols, out, t0)
    out.write(f"binance_conn demo: simulated USD-M futures market (FakeBinance product=usdm, {args.rate:g} trades/s "
              f"per symbol)\n  symbols {' '.join(args.symbols)}, {args.duration:g} s, Ctrl-C to stop\n"
              f"  rest {cfg.exchange.rest_url}  streams {cfg.exchange.ws_url} (/public, /market, /private)\n")
    driver = _MarkDriver(fake, args.symbols)
    conn = Connector(cfg)
    try:
        conn.on_connection(screen.on_connection)
        conn.on_gap(screen.on_gap)
        conn.on_agg_trade(args.symbols, screen.on_agg_trade, backfill=True)
        conn.on_mark_price(args.symbols, screen.on_mark_price)
        conn.on_order(screen.on_order)
        conn.on_position(screen.on_position)
        driver.start()
        conn.start()
        _loop(args, conn, fake, driver, screen, t0)
    except KeyboardInterrupt:
        screen.say("interrupted")
    finally:
        s = screen.summary
        try:
            if conn.ready.is_set():
                _flatten(conn, args.symbols[0])
                s.final_positions = len([p for p in conn.rest.positions() if p["positionAmt"]])
        except Exception as exc:  # noqa: BLE001 - the demo reports and goes on stopping
            screen.say(f"cleanup failed: {exc}")
        driver.done.set()
        s.stopped_cleanly = conn.stop(timeout=5.0)
        s.duration = time.monotonic() - t0
        s.connected = s.counts["connection"] > 0 or s.counts["mark_price"] > 0
        stats = conn.stats()
        s.reconnects = int(stats["market"].get("reconnects", 0)) + int(stats["user_data"].get("reconnects", 0))
        if screen.latencies:
            s.latency_p50_ms = percentile(screen.latencies, 0.50)
            s.latency_p99_ms = percentile(screen.latencies, 0.99)
        driver.join(timeout=2.0)
        fake.stop()
    return screen.summary


def _flatten(conn: Connector, symbol: str) -> None:
    conn.rest.cancel_all_orders(symbol)
    for row in conn.rest.positions(symbol):
        amt = row["positionAmt"]
        if amt:
            conn.rest.new_order(symbol, "SELL" if amt > 0 else "BUY", "MARKET", quantity=abs(amt), reduce_only=True)


def _loop(args: argparse.Namespace, conn: Connector, fake: Any, driver: _MarkDriver, screen: _FuturesScreen,
          t0: float) -> None:
    sym = args.symbols[0]
    deadline = t0 + args.duration
    steps = [(0.2, "fill"), (0.35, "limit"), (0.5, "outage")]
    limit_price = Decimal(0)
    while time.monotonic() < deadline:
        if not conn.ready.wait(min(_REFRESH, max(0.0, deadline - time.monotonic()))):
            continue
        time.sleep(max(0.0, min(_REFRESH, deadline - time.monotonic())))
        screen.refresh()
        elapsed = (time.monotonic() - t0) / args.duration
        while steps and elapsed >= steps[0][0]:
            step = steps.pop(0)[1]
            mark = driver.mark[sym]
            if step == "fill":
                screen.say(f"*** placing a MARKET BUY {_QTY} {sym} (conn.rest.new_order) ***")
                conn.rest.new_order(sym, "BUY", "MARKET", quantity=_QTY)
            elif step == "limit":
                limit_price = (mark * Decimal("0.999")).quantize(Decimal("0.01"))
                screen.say(f"*** placing a LIMIT BUY {_QTY} {sym} @ {limit_price} (rests below the mark) ***")
                conn.rest.new_order(sym, "BUY", "LIMIT", quantity=_QTY, price=limit_price, time_in_force="GTC")
            elif step == "outage" and not args.no_drop:
                screen.say("*** injecting a fault: the exchange drops every connection (market + user data) and "
                           "refuses reconnects for 1 s; meanwhile the mark crosses the LIMIT order ***")
                fake.refuse_handshakes(1.0)
                fake.drop_connections()
                screen.summary.injected_drops += 1
                if limit_price:
                    driver.set(sym, limit_price - Decimal("1"))
