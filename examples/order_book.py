"""Print a live top-of-book for one symbol, with the local book's state, until Ctrl-C.

    python examples/order_book.py BTCUSDT                  # real Binance public streams, no key
    python examples/order_book.py BTCUSDT --fake           # offline: a local fake exchange with book activity
    python examples/order_book.py ETHUSDT --levels 5       # a 5-level ladder instead of one line
    python examples/order_book.py BTCUSDT --fake --seconds 10

The book is kept by the connector (REST snapshot + diff stream, Binance's documented procedure):
its state is SYNCING until the first snapshot lines up with the stream, SYNCED while every diff
continues the previous one, OUT_OF_SYNC after any break (a gap, a reconnect ...), then SYNCING
again.  Levels are shown only while SYNCED: a book that is not SYNCED must not be trusted.
State changes are printed as they happen (``on_book`` callback, on a connector worker thread);
the top of book is printed twice a second from the main thread (``conn.book()``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
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


def top_line(book: bc.OrderBook) -> str:
    stamp = time.strftime("%H:%M:%S")
    head = f"{stamp}  {book.symbol:<9} {str(book.state):<11} id {book.last_update_id:<12}"
    if not book.is_synced or book.best_bid is None or book.best_ask is None:
        return head + "  (no trusted levels)"
    (bp, bq), (ap, aq) = book.best_bid, book.best_ask
    return (f"{head}  bid {fmt(bp):>12} x {fmt(bq):<10} | ask {fmt(ap):>12} x {fmt(aq):<10}"
            f"  spread {fmt(ap - bp)}")


def ladder(book: bc.OrderBook, levels: int) -> List[str]:
    """``levels`` asks (worst first) above ``levels`` bids (best first)."""
    rows = [f"        ask {fmt(p):>14}  {fmt(q)}" for p, q in reversed(book.asks[:levels])]
    rows += [f"        bid {fmt(p):>14}  {fmt(q)}" for p, q in book.bids[:levels]]
    return rows


class StatePrinter:
    """``on_book`` callback: prints each state change (every view arrives here; only changes are printed)."""

    def __init__(self) -> None:
        self.state: Optional[str] = None
        self.changes = 0

    def __call__(self, book: bc.OrderBook) -> None:
        if book.state is not self.state:
            old, self.state = self.state, book.state
            self.changes += 1
            with print_lock:
                print(f"-- {book.symbol} book {old or 'new'} -> {book.state} "
                      f"(update id {book.last_update_id})", flush=True)


@contextlib.contextmanager
def exchange(fake: bool, symbol: str) -> Iterator[bc.Config]:
    """The config to use: real Binance, or a fake exchange on 127.0.0.1 with random book activity."""
    if not fake:
        yield bc.Config.builder().build()  # public market data needs no API key
        return
    from binance_conn.testing import FakeBinance

    with FakeBinance([symbol], book_depth=40, seed=1) as f:
        f.start_book_activity(symbol, rate=20.0, seed=1)
        yield f.config_builder().build()


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Print a live top-of-book with its state.")
    p.add_argument("symbol", nargs="?", default="BTCUSDT")
    p.add_argument("--fake", action="store_true", help="a local fake exchange instead of real Binance")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--levels", type=int, default=1, help="levels per side to print (1: top of book only)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between prints")
    args = p.parse_args(argv)
    symbol = args.symbol.upper()
    levels = max(1, args.levels)
    # SIGTERM (a service manager, `timeout`) stops as cleanly as Ctrl-C
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    printer = StatePrinter()
    with exchange(args.fake, symbol) as cfg, bc.Connector(cfg) as conn:
        print(f"order book of {symbol} from {cfg.exchange.ws_url} (Ctrl-C to stop)", flush=True)
        sub: Any = conn.on_book(symbol, printer, depth=max(levels, 5))
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        printed = 0
        try:
            while deadline is None or time.monotonic() < deadline:
                wait = args.interval if deadline is None else max(0.0, min(args.interval, deadline - time.monotonic()))
                time.sleep(wait)
                book = conn.book(symbol, levels)
                if book is None:
                    continue
                with print_lock:
                    print(top_line(book), flush=True)
                    if levels > 1 and book.is_synced:
                        print("\n".join(ladder(book, levels)), flush=True)
                printed += 1
        except KeyboardInterrupt:
            pass
        st = conn.stats()["books"]
        sub()
        print(f"stopping: {printed} prints, {printer.changes} state changes, {st['snapshots']} snapshots, "
              f"{st['resyncs']} resyncs", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into `head`: the reader left (the connector was stopped on the way out)
        sys.stdout = None  # nothing more to flush at exit
        sys.exit(0)
