"""A USD-M futures bot's skeleton: streams, user-data events, a limit order, a conditional order,
the position after a fill, then everything cancelled and a clean stop.

    python examples/futures.py                   # offline (default): a built-in fake USD-M exchange
    python examples/futures.py --seconds 5       # run the event loop 5 s before cleaning up
    BINANCE_API_KEY=... BINANCE_API_SECRET=... python examples/futures.py --live
                                                 # the real USD-M futures testnet (binance-usdm-testnet)

What it shows:
- ``on_mark_price`` (mark price + funding, route ``/market``) and ``on_book_ticker`` (route
  ``/public``): the connector routes each stream to its path by itself;
- ``on_order``, ``on_position`` and ``on_algo_order``: user data over a listenKey the connector
  creates, keeps alive and recreates (never deletes);
- ``conn.rest.new_order``: a LIMIT order far from the market (rests), a MARKET order (fills: a
  position appears), a STOP_MARKET closing the position (a conditional type: the connector sends
  it to ``/fapi/v1/algoOrder``); at the end ``cancel_all_orders`` (plain and algo orders) and a
  reduce-only MARKET order flatten everything.

``--live`` needs testnet keys (https://testnet.binancefuture.com) in BINANCE_API_KEY /
BINANCE_API_SECRET; every network step is bounded: an unreachable network ends the script with a
message and exit status 1, never a hang.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import threading
import time
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any, Iterator, List, Optional, Tuple

import binance_conn as bc

SYMBOL = "BTCUSDT"
print_lock = threading.Lock()


def say(line: str) -> None:
    with print_lock:
        print(f"{time.strftime('%H:%M:%S')}  {line}", flush=True)


def fmt(d: Decimal) -> str:
    return f"{d.normalize():f}"


class Throttled:
    """A stream callback printing at most one line per ``every`` seconds (book tickers come in bursts)."""

    def __init__(self, every: float, render: Any) -> None:
        self.every, self.render, self.last, self.count = every, render, 0.0, 0

    def __call__(self, event: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            say(self.render(event))


def on_order(u: bc.OrderUpdate) -> None:
    tag = " (reconciled)" if u.is_reconciled else ""
    say(f"ORDER    {u.symbol} #{u.order_id} {u.side} {u.order_type} {u.status} "
        f"filled {fmt(u.filled_quantity)} pos-side {u.position_side}{tag}")


def on_position(p: bc.PositionUpdate) -> None:
    tag = " (reconciled)" if p.is_reconciled else ""
    say(f"POSITION {p.symbol} {p.position_side} amount {fmt(p.amount)} entry {fmt(p.entry_price)} "
        f"uPnL {fmt(p.unrealized_pnl)}{tag}")


def on_algo(a: bc.AlgoOrderUpdate) -> None:
    say(f"ALGO     {a.symbol} algo #{a.algo_id} {a.side} {a.order_type} {a.status}")


def on_connection(ev: Any) -> None:
    if ev.state != bc.ConnectionState.CONNECTED or ev.session != "market":
        say(f"LINK     {ev.session} {ev.state}")


@contextlib.contextmanager
def exchange(live: bool, timeout: float) -> Iterator[Tuple[bc.Config, Any]]:
    """The config to use and (offline) the fake exchange driving a random-walk mark price."""
    if live:
        key, secret = os.environ.get("BINANCE_API_KEY"), os.environ.get("BINANCE_API_SECRET")
        if not key or not secret:
            raise SystemExit("--live needs BINANCE_API_KEY and BINANCE_API_SECRET (futures testnet keys)")
        yield (bc.Config.builder().with_exchange("binance-usdm-testnet").with_api_key(key).with_api_secret(secret)
               .with_timeout(timeout, connect_timeout=timeout).with_backoff(base=0.5, max=5.0).build(), None)
        return
    from binance_conn.testing import FakeBinance

    with FakeBinance([SYMBOL], product="usdm", seed=1) as fake:
        fake.set_mark_price(SYMBOL, "60000")
        stop = threading.Event()
        walker = threading.Thread(target=random_walk, args=(fake, stop), name="fake-market", daemon=True)
        walker.start()
        try:
            yield fake.config_builder().with_backoff(base=0.1, max=1.0).build(), fake
        finally:
            stop.set()
            walker.join(timeout=2.0)


def random_walk(fake: Any, stop: threading.Event) -> None:
    """The fake's market: the mark price drifts, mark price and book ticker are published 5 times a second."""
    rnd = random.Random(1)
    mark = Decimal("60000")
    while not stop.wait(0.2):
        mark = max(Decimal("1000"), mark + Decimal(rnd.randint(-150, 150)) / 10)
        fake.set_mark_price(SYMBOL, mark)
        fake.publish_mark_price(SYMBOL, mark, mark + Decimal("2.5"), funding_rate="0.0001")
        fake.publish_book_ticker(SYMBOL, bid=mark - Decimal("0.5"), bid_qty="1.2", ask=mark + Decimal("0.5"),
                                 ask_qty="0.8")


def rules(conn: bc.Connector, timeout: float) -> Tuple[Decimal, Decimal, Decimal]:
    """(tick size, quantity step, minimum notional) of SYMBOL from exchangeInfo."""
    info = conn.rest.exchange_info(timeout=timeout)
    sym = next(s for s in info["symbols"] if s["symbol"] == SYMBOL)
    filters = {f["filterType"]: f for f in sym["filters"]}
    tick = Decimal(str(filters["PRICE_FILTER"]["tickSize"]))
    step = Decimal(1).scaleb(-int(sym["quantityPrecision"]))
    notional = Decimal(str(filters.get("MIN_NOTIONAL", {}).get("notional", "5")))
    return tick, step, notional


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="USD-M futures: streams, user data, orders, positions.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--fake", action="store_true", help="a built-in fake exchange, no network (the default)")
    mode.add_argument("--live", action="store_true", help="the real USD-M futures testnet (keys from env)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds of events between placing and cleaning up")
    p.add_argument("--timeout", type=float, default=10.0, help="bound of every network step (seconds)")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    with exchange(args.live, args.timeout) as (cfg, fake):
        conn = bc.Connector(cfg)
        where = "the USD-M futures testnet" if args.live else "a fake USD-M exchange (offline)"
        say(f"futures on {where}: REST {cfg.exchange.rest_url}, streams {cfg.exchange.ws_url}")
        try:
            tick, step, min_notional = rules(conn, args.timeout)  # a bounded probe before any thread starts
            mark = conn.rest.mark_price(SYMBOL, timeout=args.timeout)
        except (bc.BinanceError, OSError) as exc:
            print(f"error: cannot reach {cfg.exchange.rest_url}: {exc}", file=sys.stderr, flush=True)
            return 1
        marks = Throttled(1.0, lambda m: f"MARK     {m.symbol} {fmt(m.mark_price)} index {fmt(m.index_price)} "
                                         f"funding {fmt(m.funding_rate or Decimal(0))}")
        books = Throttled(1.0, lambda b: f"BOOK     {b.symbol} bid {fmt(b.bid_price)} x {fmt(b.bid_qty)} | "
                                         f"ask {fmt(b.ask_price)} x {fmt(b.ask_qty)}")
        conn.on_mark_price(SYMBOL, marks)       # route /market
        conn.on_book_ticker(SYMBOL, books)      # route /public
        conn.on_order(on_order)
        conn.on_position(on_position)
        conn.on_algo_order(on_algo)
        conn.on_connection(on_connection)
        with conn:
            if not conn.wait_ready(args.timeout * 2):
                print(f"error: streams/user data not ready within {args.timeout * 2:.0f} s: {conn.stats()['state']}",
                      file=sys.stderr, flush=True)
                return 1
            try:
                run(conn, args.seconds, args.timeout, mark, tick, step, min_notional)
            except KeyboardInterrupt:
                say("interrupted")
            except bc.BinanceError as exc:
                say(f"error: {exc}")
                cleanup(conn, args.timeout)
                return 1
            cleanup(conn, args.timeout)
            say(f"stopping: {marks.count} mark prices, {books.count} book tickers")
    return 0


def run(conn: bc.Connector, seconds: float, timeout: float, mark: Decimal, tick: Decimal, step: Decimal,
        min_notional: Decimal) -> None:
    def price(x: Decimal) -> Decimal:
        return (x / tick).to_integral_value(ROUND_DOWN) * tick

    qty = max(step, ((min_notional * Decimal("1.2")) / (mark * Decimal("0.95")) / step).to_integral_value(ROUND_UP)
              * step)
    limit = conn.rest.new_order(SYMBOL, "BUY", "LIMIT", quantity=qty, price=price(mark * Decimal("0.95")),
                                time_in_force="GTC", timeout=timeout)
    say(f"placed   LIMIT BUY {fmt(qty)} @ {fmt(price(mark * Decimal('0.95')))}: #{limit['orderId']} {limit['status']}")
    filled = conn.rest.new_order(SYMBOL, "BUY", "MARKET", quantity=qty, timeout=timeout)
    say(f"placed   MARKET BUY {fmt(qty)}: #{filled['orderId']} {filled['status']}")
    stop = conn.rest.new_order(SYMBOL, "SELL", "STOP_MARKET", stop_price=price(mark * Decimal("0.90")),
                               close_position=True, timeout=timeout)
    say(f"placed   STOP_MARKET SELL closePosition @ {fmt(price(mark * Decimal('0.90')))}: "
        f"algo #{stop['algoId']} {stop['algoStatus']} (sent to algoOrder)")
    deadline = time.monotonic() + min(2.0, seconds)
    while time.monotonic() < deadline and not any(x.amount for x in conn.positions()):
        time.sleep(0.05)
    for row in conn.rest.positions(SYMBOL, timeout=timeout):
        if row["positionAmt"]:
            say(f"REST     position {row['symbol']} {row['positionSide']} {fmt(row['positionAmt'])} "
                f"entry {fmt(row['entryPrice'])} leverage {row['leverage']}")
    time.sleep(max(0.0, deadline - time.monotonic()) + max(0.0, seconds - 2.0))


def cleanup(conn: bc.Connector, timeout: float) -> None:
    """Cancel every open order (plain and algo) and flatten the position."""
    try:
        conn.rest.cancel_all_orders(SYMBOL, timeout=timeout)
        for row in conn.rest.positions(SYMBOL, timeout=timeout):
            amt = row["positionAmt"]
            if amt:
                conn.rest.new_order(SYMBOL, "SELL" if amt > 0 else "BUY", "MARKET", quantity=abs(amt),
                                    reduce_only=True, timeout=timeout)
        left = [r for r in conn.rest.positions(SYMBOL, timeout=timeout) if r["positionAmt"]]
        say(f"cleaned  open orders {len(conn.rest.open_orders(SYMBOL, timeout=timeout))}, "
            f"algo orders {len(conn.rest.open_algo_orders(SYMBOL, timeout=timeout))}, open positions {len(left)}")
    except (bc.BinanceError, OSError) as exc:
        say(f"cleanup failed: {exc}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.stdout = None
        sys.exit(0)
