"""Follow an order's life cycle through user data (WebSocket API), across a dropped connection.

    python examples/order_events.py          # against a local FakeBinance (no network, no keys)
    python examples/order_events.py --live   # real exchange, credentials from BINANCE_API_KEY /
                                             # BINANCE_API_SECRET or BINANCE_PRIVATE_KEY(_PATH);
                                             # listens only (places no order) for --seconds

On the fake it places a limit order over REST, fills it in parts, cuts the WebSocket API
connection in the middle so one fill happens while nobody listens, and shows that fill
arrive after the reconnect as a reconciled update.  Then the server announces a shutdown
(the session moves to a new connection before the old one closes: no gap, no event),
an order is placed and canceled through ``conn.ws_api``, and everything stops cleanly.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any, Optional

import binance_conn as bc
from binance_conn.testing import FakeBinance

_print_lock = threading.Lock()
_t0 = time.monotonic()


def say(text: str) -> None:
    with _print_lock:
        print(f"[{time.monotonic() - _t0:6.2f}s] {text}", flush=True)


def num(value: Any) -> str:
    """A Decimal for people: ``0E-8`` -> ``0``, ``0.25000000`` -> ``0.25``."""
    return format(value.normalize(), "f") if value is not None else "-"


def on_order(ev: bc.OrderUpdate) -> None:
    tag = "  (reconciled after a gap)" if ev.is_reconciled else ""
    fills = f", {len(ev.fills)} missed fill(s)" if ev.is_reconciled and ev.fills else ""
    last = f", last {num(ev.last_fill_quantity)} @ {num(ev.last_fill_price)}" if ev.last_fill_quantity else ""
    say(f"order {ev.order_id} {ev.side} {ev.symbol}: {ev.status:<16} filled {num(ev.filled_quantity)}/"
        f"{num(ev.quantity)}{last}{fills}{tag}")


def on_balance(ev: bc.BalanceUpdate) -> None:
    if ev.delta is not None:
        say(f"balance {ev.asset}: delta {num(ev.delta)}")
    elif ev.asset in ("BTC", "USDT"):
        say(f"balance {ev.asset}: free {num(ev.free)} locked {num(ev.locked)}")


def on_connection(ev: bc.ConnectionEvent) -> None:
    say(f"connection [{ev.session}] {getattr(ev.state, 'value', ev.state)}: {ev.reason}")


def on_error(err: bc.BinanceError) -> None:
    say(f"error: {err}")


def run_fake() -> int:
    seen: "dict[int, str]" = {}
    done = threading.Condition()

    def track(ev: bc.OrderUpdate) -> None:
        on_order(ev)
        with done:
            seen[ev.order_id] = str(ev.status)
            done.notify_all()

    def wait_for(order_id: int, pred: Any, timeout: float = 5.0) -> bool:
        with done:
            return bool(done.wait_for(lambda: pred(seen.get(order_id)), timeout))

    with FakeBinance() as fake:
        cfg = fake.config_builder().with_backoff(base=0.1, max=1.0).with_debounce(0.0).build()
        with bc.Connector(cfg) as conn:
            conn.on_connection(on_connection)
            conn.on_error(on_error)
            conn.on_order(track)
            conn.on_balance(on_balance)
            if not conn.wait_ready(10):
                say("not ready after 10 s")
                return 1
            say("ready: placing BUY 1 BTCUSDT @ 100 over REST")
            order = conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC")
            oid = int(order["orderId"])
            wait_for(oid, lambda s: s == "NEW")
            say("exchange fills 0.25")
            fake.fill_order("BTCUSDT", oid, "0.25")
            wait_for(oid, lambda s: s == "PARTIALLY_FILLED")
            time.sleep(0.2)
            say("cutting the WebSocket API connection; the exchange fills 0.5 while we are away")
            fake.drop_connections(path_prefix="/ws-api")
            fake.fill_order("BTCUSDT", oid, "0.5")
            if not conn.wait_ready(10):
                say("user data did not come back")
                return 1
            time.sleep(0.5)  # let the reconciliation report the missed fill
            say("exchange fills the rest")
            fake.fill_order("BTCUSDT", oid)
            if not wait_for(oid, lambda s: s == "FILLED"):
                say("no FILLED update")
                return 1
            say("the server announces a shutdown: make-before-break to a new connection")
            fake.send_server_shutdown()
            deadline = time.monotonic() + 5
            while conn.stats()["user_data"]["subscribes"] < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            say("placing and canceling an order over the WebSocket API")
            placed = conn.ws_api.place_order("BTCUSDT", "SELL", "LIMIT", quantity="0.5", price="90000",
                                             time_in_force="GTC")
            wait_for(int(placed["orderId"]), lambda s: s == "NEW")
            conn.ws_api.cancel_order("BTCUSDT", order_id=placed["orderId"])
            wait_for(int(placed["orderId"]), lambda s: s == "CANCELED")
            stats = conn.stats()["user_data"]
            say(f"user data: {stats['events']} events, {stats['reconnects']} reconnect(s), "
                f"{stats['rollovers']} rollover(s), {stats['reconciled_updates']} reconciled update(s)")
        say(f"stopped cleanly: {conn.state.value}")
    return 0


def run_live(exchange: str, seconds: float) -> int:
    cfg = bc.Config.builder().with_exchange(exchange).from_env().build()
    with bc.Connector(cfg) as conn:
        conn.on_connection(on_connection)
        conn.on_error(on_error)
        conn.on_order(on_order)
        conn.on_balance(on_balance)
        say(f"ready: {conn.wait_ready(15)}; listening for {seconds:g} s (place an order elsewhere)")
        time.sleep(seconds)
    return 0


def main(argv: Optional[list] = None) -> int:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", action="store_true", help="use the real exchange (credentials from env)")
    parser.add_argument("--exchange", default="binance-testnet", help="binance | binance-testnet (with --live)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to listen with --live")
    args = parser.parse_args(argv)
    return run_live(args.exchange, args.seconds) if args.live else run_fake()


if __name__ == "__main__":
    raise SystemExit(main())
