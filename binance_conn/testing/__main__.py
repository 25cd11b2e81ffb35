"""``python -m binance_conn.testing``: run the fake standalone until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import threading

from ._fake import FakeBinance

__all__ = ["main"]


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m binance_conn.testing", description=__doc__)
    parser.add_argument("--market-rate", type=float, default=5.0, help="simulated events/s per symbol")
    parser.add_argument("--symbols", default="BTCUSDT,ETHUSDT,BNBUSDT")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG)
    fake = FakeBinance(symbols=[s.strip() for s in args.symbols.split(",") if s.strip()],
                       market_rate=args.market_rate)
    with fake:
        print(f"REST:           {fake.rest_url}")
        print(f"WS streams:     {fake.ws_url}/ws/<stream>  or  {fake.ws_url}/stream?streams=<a>/<b>")
        print(f"WebSocket API:  {fake.ws_api_url}/ws-api/v3")
        print(f"API key:        {fake.api_key}")
        print(f"API secret:     {fake.api_secret}")
        print("Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
