"""REST calls and a live stream side by side, on one Connector.

    python examples/rest_and_stream.py                  # offline: a local fake exchange
    python examples/rest_and_stream.py --live           # real Binance (public endpoints, no key)
    python examples/rest_and_stream.py --duration 5 --symbol ETHUSDT

It reads the symbol's trading rules (exchangeInfo filters), the server clock, the last
price and the top of the order book over REST, then follows the trade stream while
polling REST once a second from the main thread: REST calls never wait for the stream
and the stream never waits for REST.  Every price and quantity is a ``Decimal``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
from decimal import Decimal
from typing import Any, Dict, Iterator, List, Optional

import binance_conn as bc


def fmt(d: Decimal) -> str:
    """A Decimal without trailing zeros and without an exponent (never via float)."""
    return f"{d.normalize():f}"


@contextlib.contextmanager
def exchange(live: bool, symbol: str) -> Iterator[bc.Config]:
    """Real Binance, or a fake exchange on 127.0.0.1 (with a lively simulated market)."""
    if live:
        yield bc.Config.builder().build()
        return
    from binance_conn.testing import FakeBinance

    with FakeBinance([symbol], market_rate=25) as fake:
        yield fake.config_builder().build()


class TradeTape:
    """Running totals of the trade stream (updated on the subscriber's worker thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.buy_qty = Decimal(0)
        self.sell_qty = Decimal(0)
        self.last: Optional[bc.Trade] = None

    def __call__(self, t: bc.Trade) -> None:
        with self.lock:
            self.count += 1
            if t.is_buyer_maker:  # the seller crossed the spread
                self.sell_qty += t.quantity
            else:
                self.buy_qty += t.quantity
            self.last = t


def show_rules(rest: bc.RestClient, symbol: str) -> Decimal:
    """Print the symbol's trading rules; returns its tick size."""
    info: Dict[str, Any] = rest.exchange_info(symbol)
    item = next(s for s in info["symbols"] if s["symbol"] == symbol)
    print(f"{symbol}: status {item['status']}, base {item['baseAsset']}, quote {item['quoteAsset']}")
    for f in item["filters"]:
        if f["filterType"] in ("PRICE_FILTER", "LOT_SIZE", "NOTIONAL", "MIN_NOTIONAL"):
            fields = ", ".join(f"{k}={v}" for k, v in f.items() if k != "filterType")
            print(f"  {f['filterType']:<13} {fields}")
    rules = rest.symbol_filters(symbol)
    print(f"  as Decimals: tick {fmt(rules.tick_size)}, step {fmt(rules.step_size)}, "
          f"min qty {fmt(rules.min_qty)}, min notional {fmt(rules.min_notional)}")
    return rules.tick_size.normalize()


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="REST and a stream at the same time.")
    p.add_argument("--symbol", default="BTCUSDT")
    p.add_argument("--live", action="store_true", help="real Binance instead of the local fake")
    p.add_argument("--duration", type=float, default=10.0, help="seconds to follow the stream (default 10)")
    args = p.parse_args(argv)
    symbol = args.symbol.upper()

    with exchange(args.live, symbol) as cfg:
        conn = bc.Connector(cfg)
        try:
            # REST works before start(), with no thread and no stream.
            skew = conn.rest.server_time() - int(time.time() * 1000)
            print(f"server time OK (clock skew {skew:+d} ms) at {cfg.exchange.rest_url}")
            tick = show_rules(conn.rest, symbol)
        except bc.BinanceError as exc:
            print(f"REST failed: {exc}\n(offline? try without --live to use the local fake exchange)")
            return 1

        tape = TradeTape()
        conn.on_trade(symbol, tape)
        with conn:  # start() ... stop()
            if not conn.wait_ready(timeout=min(10.0, args.duration)):
                print("stream not connected yet; it keeps retrying in the background")
            deadline = time.monotonic() + args.duration
            while time.monotonic() < deadline:
                time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))
                try:
                    price = conn.rest.ticker_price(symbol)
                    book = conn.rest.depth(symbol, limit=5)
                except bc.BinanceError as exc:  # e.g. rate limited, or the network hiccuped
                    print(f"REST: {exc.code}: {exc.message}")
                    continue
                (bid, bid_qty), (ask, ask_qty) = book["bids"][0], book["asks"][0]
                with tape.lock:
                    n, last = tape.count, tape.last
                    buys, sells = tape.buy_qty, tape.sell_qty
                stream_px = last.price.quantize(tick) if last is not None else "-"
                print(f"REST last {price.quantize(tick)}, bid {bid.quantize(tick)} x {fmt(bid_qty)}, "
                      f"ask {ask.quantize(tick)} x {fmt(ask_qty)} | stream {n} trades, last {stream_px}, "
                      f"taker buys {fmt(buys)} sells {fmt(sells)}", flush=True)
            print(f"connector: {conn.state}, stream events {tape.count}, REST weight used {conn.rest.used_weight}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
