"""Backfill benchmark: a 10-second stream outage at 2,000 trades/s against FakeBinance, ``backfill=True``.

    python benchmarks/backfill_bench.py                       # what `make bench` runs (trade, then aggTrade)
    python benchmarks/backfill_bench.py --kind trade --outage 5 --rate 1000

The fake generates trades steadily (``start_trades``); the stream link is cut and handshakes are refused
for ``--outage`` seconds, so the connector stays down that long while trades go on.  Measured:

- **reconnect -> FILLED**: from the first accepted handshake after the outage (the fake's handshake log,
  same monotonic clock) to the ``FILLED`` GapEvent reaching its callback;
- **REST weight** of the backfill (requests in the fake's log x the endpoint's weight) against the docs'
  prediction ``ceil(N / 1000) x 25`` (``historicalTrades``) or ``x 4`` (``aggTrades``);
- **catch-up rate**: backfilled events per second delivered to the callback (first to last backfilled
  one), and the time from reconnect until the callback is live again (an event less than 50 ms old);
- completeness: every published id delivered once, in order.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading
import time
from typing import Any, Dict, List, Tuple

import binance_conn as bc
from binance_conn.testing import FakeBinance

SYM = "BTCUSDT"
PATHS = {"trade": ("/api/v3/historicalTrades", 25), "agg": ("/api/v3/aggTrades", 4)}


def run(kind: str, rate: float, outage: float) -> Dict[str, Any]:
    path, page_weight = PATHS[kind]
    lock = threading.Lock()
    got: List[Tuple[int, bool, float, int]] = []  # (id, backfilled, wall time of delivery, trade time ms)
    gaps: List[Tuple[bc.GapEvent, float]] = []

    def on_event(e: Any) -> None:
        key = e.trade_id if kind == "trade" else e.agg_trade_id
        with lock:
            got.append((key, e.is_backfilled, time.time(), e.trade_time))

    def on_gap(g: bc.GapEvent) -> None:
        with lock:
            gaps.append((g, time.monotonic()))

    with FakeBinance(seed=5) as fake:
        cfg = (fake.config_builder().with_backoff(base=0.05, max=0.5, jitter=0.0).with_debounce(0.0)
               .with_health_check(1.0).build())
        conn = bc.Connector(cfg)
        conn.on_gap(on_gap)
        if kind == "trade":
            conn.on_trade(SYM, on_event, backfill=True)
        else:
            conn.on_agg_trade(SYM, on_event, backfill=True)
        stream = "btcusdt@trade" if kind == "trade" else "btcusdt@aggTrade"
        with conn:
            assert conn.wait_ready(10)
            assert fake.wait_for_subscriptions([stream], 5.0)
            fake.start_trades(SYM, rate=rate, seed=1)
            time.sleep(1.0)  # steady state before the outage
            fake.refuse_handshakes(outage)
            t_cut = time.monotonic()
            fake.drop_connections()
            assert fake.wait_until(lambda: any(h["status"] == 101 and h["time"] > t_cut for h in fake.handshake_log),
                                   outage + 10)
            t_reconnect = min(h["time"] for h in fake.handshake_log if h["status"] == 101 and h["time"] > t_cut)
            assert fake.wait_until(lambda: any(g.state != bc.GapState.OPEN for g, _ in list(gaps)), 60)
            time.sleep(1.0)  # live again for a while after the fill
            fake.stop_trades(SYM)
            published = fake.published_trade_ids(SYM)
            with fake.market.lock:
                st = fake.market.get(SYM)
                offset = st.next_agg_id - st.next_trade_id
            last = published[-1] + (offset if kind == "agg" else 0)
            fake.wait_until(lambda: bool(got) and got[-1][0] == last, 30)
            requests = [r for r in fake.request_log if r["path"] == path]
        with lock:
            events, gap_log = list(got), list(gaps)
    ended = [(g, t) for g, t in gap_log if g.state != bc.GapState.OPEN]
    opened = [g for g, _ in gap_log if g.state == bc.GapState.OPEN]
    first_end, t_filled = ended[0]
    n_missing = sum(g.missing for g in opened)
    backfilled = [e for e in events if e[1]]
    span = (backfilled[-1][2] - backfilled[0][2]) if len(backfilled) > 1 else 0.0
    t_reconnect_wall = time.time() - (time.monotonic() - t_reconnect)
    live_again = next((e[2] for e in events if e[2] > t_reconnect_wall and not e[1]
                       and (e[2] * 1000 - e[3]) < 50 and e[0] > (backfilled[-1][0] if backfilled else 0)), None)
    ids = [e[0] for e in events]
    return {
        "kind": kind, "rate": rate, "outage_s": outage,
        "gaps": len(opened), "states": [g.state.value for g, _ in ended], "missing": n_missing,
        "reconnect_to_filled_s": t_filled - t_reconnect,
        "rest_pages": len(requests), "rest_weight": len(requests) * page_weight,
        "predicted_weight": sum(math.ceil(g.missing / 1000) for g in opened) * page_weight,
        "backfilled": len(backfilled), "catch_up_events_per_s": (len(backfilled) / span) if span else float("nan"),
        "reconnect_to_live_s": (live_again - t_reconnect_wall) if live_again else float("nan"),
        "complete_in_order": ids == list(range(ids[0], last + 1)), "first_end_reason": first_end.reason,
    }


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kind", choices=("trade", "agg", "both"), default="both")
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--outage", type=float, default=10.0)
    args = ap.parse_args(argv)
    ok = True
    for kind in (("trade", "agg") if args.kind == "both" else (args.kind,)):
        r = run(kind, args.rate, args.outage)
        print(f"backfill [{r['kind']}] {r['rate']:.0f} trades/s, {r['outage_s']:g} s outage: "
              f"{r['missing']} missing in {r['gaps']} gap(s) {r['states']}")
        print(f"  reconnect -> FILLED     {r['reconnect_to_filled_s'] * 1000:8.0f} ms")
        print(f"  reconnect -> live again {r['reconnect_to_live_s'] * 1000:8.0f} ms")
        print(f"  REST weight             {r['rest_weight']:8d}   ({r['rest_pages']} pages; docs predict "
              f"{r['predicted_weight']})")
        print(f"  catch-up delivery       {r['catch_up_events_per_s']:8.0f} events/s ({r['backfilled']} backfilled)")
        print(f"  complete, in order      {r['complete_in_order']}")
        ok = ok and r["complete_in_order"] and all(s == "FILLED" for s in r["states"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
