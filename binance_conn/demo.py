"""``python -m binance_conn.demo``: live tickers and trades, a dropped connection, a summary.

By default it runs against :class:`binance_conn.testing.FakeBinance` (a simulated market on
loopback, so it works offline) and drops the stream connection halfway so the reconnect is
visible.  ``--live`` uses Binance's real public streams instead (no API key needed)::

    python -m binance_conn.demo                 # simulated market, 15 s
    python -m binance_conn.demo --duration 60 -v
    python -m binance_conn.demo --live          # real Binance (``make demo LIVE=1``)
    python -m binance_conn.demo --futures       # simulated USD-M futures (``make demo FUTURES=1``)
    python -m binance_conn.demo --record session.jsonl.gz   # also record it (replay: FakeBinance.replay)

This module is the one place in the library allowed to import ``binance_conn.testing``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from decimal import Decimal
from typing import Any, Dict, List, Optional, Sequence, TextIO

from ._demo_util import fmt_decimal, percentile
from .config import Config, ConfigBuilder, check_recording_path
from .connector import Connector
from .errors import ValidationError
from .events import BookTicker, ConnectionEvent, GapEvent, Ticker, Trade

__all__ = ["main", "DemoSummary"]

DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "BNBUSDT")
_REFRESH = 0.5  # seconds between screen updates


class DemoSummary:
    """What a demo run saw; :meth:`lines` renders it."""

    def __init__(self) -> None:
        self.duration = 0.0
        self.connected = False
        self.counts: Dict[str, int] = {"trade": 0, "ticker": 0, "book_ticker": 0, "connection": 0}
        self.connection_states: List[str] = []
        self.reconnects = 0
        self.zombies = 0
        self.subscriber_drops = 0
        self.injected_drops = 0
        self.gaps = 0
        self.backfilled = 0
        self.unfilled = 0
        self.latency_p50_ms: Optional[float] = None
        self.latency_p99_ms: Optional[float] = None
        self.lag: Dict[str, Any] = {}  # conn.stats()["lag"]["overall"]
        self.clock_offset_ms: Optional[int] = None
        self.stopped_cleanly = False

    def lines(self) -> List[str]:
        d = max(self.duration, 1e-9)
        c = self.counts
        out = [
            f"Summary ({self.duration:.1f} s)",
            f"  events      trade {c['trade']} ({c['trade'] / d:.0f}/s), ticker {c['ticker']}, "
            f"book_ticker {c['book_ticker']} ({c['book_ticker'] / d:.0f}/s), connection {c['connection']}",
            f"  connection  {' -> '.join(self.connection_states) or 'no events'}",
            f"  reconnects  {self.reconnects} (injected drops {self.injected_drops}), zombies replaced "
            f"{self.zombies}, events dropped by slow subscribers {self.subscriber_drops}",
            f"  gaps        {self.gaps} in the trade streams, {self.backfilled} trades backfilled over REST, "
            f"{self.unfilled} left unfilled",
        ]
        if self.latency_p50_ms is not None:
            out.append(
                f"  latency     p50 {self.latency_p50_ms:.1f} ms, p99 {self.latency_p99_ms:.1f} ms "
                "(exchange event time -> callback, ms clock)"
            )
        if self.lag.get("count"):
            lag = self.lag
            out.append(f"  event lag   p50 {lag['p50_ms']} ms, p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms "
                       f"over {lag['count']} events (Binance clock, offset {self.clock_offset_ms} ms)")
        out.append(f"  stopped     {'cleanly, every thread joined' if self.stopped_cleanly else 'NOT in time'}")
        out += ["Where to look next (README \"Metrics and health\"):",
                '  conn.stats()["lag"]                 event lag per stream: p50/p99/max, clock offset',
                "  conn.health()                       a JSON-able dict for a web health route",
                "  binance_conn.metrics.serve(conn)    Prometheus /metrics and /health (pip install "
                "'binance_conn[metrics]')"]
        return out


class _Screen:
    """Collects the latest state from the callbacks (worker threads) and prints it, throttled."""

    def __init__(self, symbols: Sequence[str], out: TextIO, t0: float) -> None:
        self.symbols = list(symbols)
        self.out = out
        self.t0 = t0
        self.lock = threading.Lock()
        self.summary = DemoSummary()
        self.last_price: Dict[str, Decimal] = {}
        self.change_pct: Dict[str, Decimal] = {}
        self.last_trade: Dict[str, Trade] = {}
        self.sample = 0
        self.new_trades = 0
        self.latencies: List[float] = []

    def say(self, text: str) -> None:
        with self.lock:
            self.out.write(f"[{time.monotonic() - self.t0:5.1f}s] {text}\n")
            self.out.flush()

    # -- callbacks (each runs on its subscriber's worker thread) ------------------------------------
    def on_trade(self, ev: Trade) -> None:
        sent = ev.event_time / 1000.0 if ev.event_time >= 1e14 else ev.event_time  # µs (time unit MICROSECOND)
        lat = time.time() * 1000.0 - sent
        with self.lock:
            self.summary.counts["trade"] += 1
            self.last_price[ev.symbol] = ev.price
            self.last_trade[ev.symbol] = ev
            self.new_trades += 1
            if ev.is_backfilled:
                self.summary.backfilled += 1
            elif len(self.latencies) < 200_000:  # a backfilled trade's age is the outage, not latency
                self.latencies.append(lat)

    def on_gap(self, ev: GapEvent) -> None:
        state = getattr(ev.state, "value", str(ev.state))
        with self.lock:
            if state == "OPEN":
                self.summary.gaps += 1
            elif state == "UNFILLED":
                self.summary.unfilled += 1
        filled = f", {ev.filled} backfilled" if state != "OPEN" else ""
        self.say(f"gap         {state:<12} {ev.stream}: ids {ev.first_missing}..{ev.last_missing} "
                 f"missing ({ev.cause}){filled}")

    def on_ticker(self, ev: Ticker) -> None:
        with self.lock:
            self.summary.counts["ticker"] += 1
            self.change_pct[ev.symbol] = ev.price_change_percent
            self.last_price.setdefault(ev.symbol, ev.last_price)

    def on_book_ticker(self, ev: BookTicker) -> None:
        with self.lock:
            self.summary.counts["book_ticker"] += 1

    def on_connection(self, ev: ConnectionEvent) -> None:
        state = getattr(ev.state, "value", str(ev.state))
        with self.lock:
            self.summary.counts["connection"] += 1
            self.summary.connection_states.append(state)
        self.say(f"connection  {state:<12} {ev.session}: {ev.reason}")

    # -- periodic output ----------------------------------------------------------------------------
    def refresh(self, with_trade: bool) -> None:
        with self.lock:
            parts = []
            for sym in self.symbols:
                price = self.last_price.get(sym)
                if price is None:
                    continue
                pct = self.change_pct.get(sym)
                pct_s = f" {pct:+.2f}%" if pct is not None else ""
                parts.append(f"{sym} {fmt_decimal(price)}{pct_s}")
            trade = None
            n_new = self.new_trades
            if with_trade:  # a sample: the latest trade of the next symbol in turn
                for _ in self.symbols:
                    self.sample += 1
                    trade = self.last_trade.get(self.symbols[self.sample % len(self.symbols)])
                    if trade is not None:
                        break
                self.new_trades = 0
        if parts:
            self.say("price       " + "  |  ".join(parts))
        if trade is not None and n_new:
            side = "SELL" if trade.is_buyer_maker else "BUY "
            self.say(
                f"trades      +{n_new:<4} latest {trade.symbol} {side} {fmt_decimal(trade.quantity, 0)} "
                f"@ {fmt_decimal(trade.price)} (id {trade.trade_id})"
            )


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m binance_conn.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--live", action="store_true", help="use Binance's real public streams instead of the fake")
    p.add_argument("--futures", action="store_true", help="a simulated USD-M futures market (make demo FUTURES=1)")
    p.add_argument("--duration", type=float, default=15.0, help="seconds to run (default 15)")
    p.add_argument("--symbols", nargs="+", default=list(DEFAULT_SYMBOLS), metavar="SYMBOL")
    p.add_argument("--rate", type=float, default=20.0, help="simulated trades per second per symbol (fake only)")
    p.add_argument("--no-drop", action="store_true", help="do not inject the dropped connection (fake only)")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log library activity (-vv: debug)")
    p.add_argument("--record", metavar="PATH", help="record raw frames and REST responses to PATH (gzip JSON Lines; "
                   "replay with FakeBinance.replay)")
    args = p.parse_args(argv)
    if args.duration <= 0:
        p.error("--duration must be > 0")
    if args.record:
        try:
            check_recording_path("--record", args.record)
        except ValidationError as exc:
            p.error(str(exc))
    args.symbols = [s.upper() for s in args.symbols]
    return args


def _setup_logging(verbose: int) -> Dict[str, Any]:
    lib = logging.getLogger("binance_conn")
    saved = {"level": lib.level}
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        lib.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)
    else:
        lib.setLevel(logging.CRITICAL)  # quiet: the demo prints what matters itself
    return saved


def run(args: argparse.Namespace, out: TextIO) -> Any:
    """Run the demo as configured by ``args``, printing to ``out``; returns the summary."""
    if getattr(args, "futures", False):
        from .demo_futures import run_futures  # the futures mode (demo_futures.py)

        return run_futures(args, out)
    fake: Any = None
    if args.live:
        cfg: Config = ConfigBuilder().with_exchange("binance").build()
        where = "Binance public streams (live)"
    else:
        from .testing import FakeBinance  # the one allowed import of the test fake in the library

        fake = FakeBinance(args.symbols, market_rate=args.rate).start()
        # debounce 0: show every connection change (the default 1 s would hide a drop that heals fast)
        cfg = fake.config_builder().with_debounce(0).with_backoff(base=0.2, max=2.0, jitter=0.2).build()
        where = f"simulated market (FakeBinance, {args.rate:g} trades/s per symbol)"
    t0 = time.monotonic()
    screen = _Screen(args.symbols, out, t0)
    out.write(
        f"binance_conn demo: {where}\n  symbols {' '.join(args.symbols)}, {args.duration:g} s, Ctrl-C to stop"
        f"\n  rest {cfg.exchange.rest_url}  streams {cfg.exchange.ws_url}\n"
    )
    conn = Connector(cfg)
    rec = conn.record(args.record) if getattr(args, "record", None) else None
    if rec is not None:
        out.write(f"  recording to {rec.path}\n")
    try:
        conn.on_connection(screen.on_connection)
        conn.on_gap(screen.on_gap)
        conn.on_trade(args.symbols, screen.on_trade, backfill=True)  # holes filled over REST, in order
        conn.on_ticker(args.symbols, screen.on_ticker)
        conn.on_book_ticker(args.symbols, screen.on_book_ticker)
        conn.start()
        _loop(args, conn, fake, screen, t0)
    except KeyboardInterrupt:
        screen.say("interrupted")
    finally:
        s = screen.summary
        s.stopped_cleanly = conn.stop(timeout=5.0)
        s.duration = time.monotonic() - t0
        s.connected = s.counts["connection"] > 0 or s.counts["trade"] > 0
        stats = conn.stats()
        s.reconnects = int(stats["market"].get("reconnects", 0))
        s.zombies = int(stats["market"].get("zombies_replaced", 0))
        s.subscriber_drops = sum(
            int(sub.get("dropped", 0)) for subs in stats["subscribers"].values() for sub in subs
        ) + int(stats.get("dropped_at_stop", 0))
        s.lag, s.clock_offset_ms = stats["lag"]["overall"], stats["lag"]["clock_offset_ms"]
        if screen.latencies:
            s.latency_p50_ms = percentile(screen.latencies, 0.50)
            s.latency_p99_ms = percentile(screen.latencies, 0.99)
        if fake is not None:
            fake.stop()
        if rec is not None:
            out.write(f"recorded {rec.lines} lines to {', '.join(rec.files) or rec.path} ({rec.dropped} dropped)\n")
    return screen.summary


def _why_not_ready(conn: Connector) -> str:
    market = conn.stats()["market"]
    parts = [f"state {market.get('state')}"]
    if not market.get("rest_reachable"):
        parts.append("REST unreachable")
    for link in market.get("connections", []):
        if link.get("failed_attempts"):
            parts.append(f"stream: {link['failed_attempts']} failed attempt(s)")
        if link.get("last_loss_reason"):
            parts.append(f"last error: {link['last_loss_reason']}")
    return ", ".join(parts)


def _loop(args: argparse.Namespace, conn: Connector, fake: Any, screen: _Screen, t0: float) -> None:
    deadline = t0 + args.duration
    drop_at = t0 + args.duration / 2 if fake is not None and not args.no_drop else None
    next_wait_msg = t0 + 2.0
    tick = 0
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if conn.ready.wait(min(_REFRESH, deadline - now)) is False:
            now = time.monotonic()
            if now >= next_wait_msg:
                screen.say(f"waiting for connection... ({_why_not_ready(conn)})")
                next_wait_msg = now + 3.0
            continue
        # ready: pace the screen at _REFRESH
        time.sleep(max(0.0, min(_REFRESH - ((time.monotonic() - t0) % _REFRESH), deadline - time.monotonic())))
        tick += 1
        screen.refresh(with_trade=tick % 2 == 0)
        if drop_at is not None and time.monotonic() >= drop_at:
            drop_at = None
            screen.say("*** injecting a fault: the exchange drops the stream connection (no close frame) "
                       "and refuses reconnects for 1 s ***")
            fake.refuse_handshakes(1.0)
            fake.drop_connections()
            screen.summary.injected_drops += 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the process exit status (0: data arrived; 1: never connected)."""
    args = _parse_args(argv)
    saved = _setup_logging(args.verbose)
    out = sys.stdout
    try:
        summary = run(args, out)
    finally:
        logging.getLogger("binance_conn").setLevel(saved["level"])
    for line in summary.lines():
        out.write(line + "\n")
    if not summary.connected:
        target = "Binance (are you offline, or is a firewall blocking stream.binance.com:9443?)" if args.live \
            else "the local fake exchange"
        out.write(f"No connection to {target} within {summary.duration:.0f} s; gave up.\n")
        out.flush()
        return 1
    out.flush()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
