"""Print 24 h tickers for a few symbols until Ctrl-C (or ``--duration`` seconds).

    python examples/stream_tickers.py                       # offline: a local fake exchange
    python examples/stream_tickers.py --live BTCUSDT ETHUSDT  # real Binance public streams, no key
    python examples/stream_tickers.py --duration 5

The callbacks run on the connector's worker threads (one per symbol here), so they
must not block for long; prices arrive as ``decimal.Decimal``, never float.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from decimal import Decimal
from typing import Any, Iterator, List, Optional

import binance_conn as bc

print_lock = threading.Lock()


def fmt(d: Decimal) -> str:
    """A Decimal without trailing zeros and without an exponent (never via float)."""
    return f"{d.normalize():f}"


def on_ticker(t: bc.Ticker) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(t.event_time / 1000))
    with print_lock:
        print(
            f"{stamp}  {t.symbol:<9} last {fmt(t.last_price):>12}  24h {t.price_change_percent:+6.2f}%  "
            f"high {fmt(t.high_price)}  low {fmt(t.low_price)}  vol {fmt(t.volume)}",
            flush=True,
        )


def on_connection(ev: bc.ConnectionEvent) -> None:
    with print_lock:
        print(f"-- {ev.state}: {ev.reason}", flush=True)


@contextlib.contextmanager
def exchange(live: bool, symbols: List[str]) -> Iterator[bc.Config]:
    """The config to use: real Binance, or a fake exchange on 127.0.0.1 for the duration."""
    if live:
        yield bc.Config.builder().build()  # public market data needs no API key
        return
    from binance_conn.testing import FakeBinance

    with FakeBinance(symbols, market_rate=10) as fake:
        yield fake.config_builder().build()


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Print live 24 h tickers.")
    p.add_argument("symbols", nargs="*", default=["BTCUSDT", "ETHUSDT", "BNBUSDT"])
    p.add_argument("--live", action="store_true", help="real Binance instead of the local fake")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = p.parse_args(argv)
    symbols = [s.upper() for s in args.symbols]

    with exchange(args.live, symbols) as cfg, bc.Connector(cfg) as conn:
        print(f"streaming tickers for {', '.join(symbols)} from {cfg.exchange.ws_url} (Ctrl-C to stop)", flush=True)
        conn.on_connection(on_connection)
        sub: Any = conn.on_ticker(symbols, on_ticker)
        if not conn.wait_ready(timeout=min(10.0, args.duration or 10.0)):
            print("not connected yet (offline?); still retrying in the background...", flush=True)
        try:
            deadline = None if args.duration is None else time.monotonic() + args.duration
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
        except KeyboardInterrupt:
            pass
        print(f"received {sub.delivered} tickers, dropped {sub.dropped}; stopping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
