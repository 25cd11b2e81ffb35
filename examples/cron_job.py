"""A cron job: a few REST calls, no threads, and an exit code that tells cron what happened.

    python examples/cron_job.py BTCUSDT ETHUSDT            # last prices, one line each
    python examples/cron_job.py --account                  # non-zero balances (needs a key)
    BINANCE_TIMEOUT=5 python examples/cron_job.py BTCUSDT  # each call gives up after 5 s in total

    # crontab: every 5 minutes, output and logs appended to a file
    */5 * * * *  cd /srv/app && .venv/bin/python examples/cron_job.py BTCUSDT >>/var/log/prices.log 2>&1

Exit codes (so cron, systemd timers or a wrapper script can react):

    0  ok
    2  configuration or validation error: fix the setup, retrying will not help
    3  network or temporary error (unreachable, timeout, rate limited, 5xx): try again later
    4  Binance rejected the request (API error: unknown symbol, bad key, ...)
    1  a bug (unexpected exception, logged with its traceback)

Environment: ``BINANCE_EXCHANGE`` ("binance" or "binance-testnet"), ``BINANCE_REST_URL``
(e.g. the fake exchange's URL from ``python -m binance_conn.testing``), ``BINANCE_TIMEOUT``
(seconds, default 10: the deadline of each call, retries included), and for ``--account``
``BINANCE_API_KEY`` / ``BINANCE_API_SECRET`` (or ``BINANCE_PRIVATE_KEY_PATH``).
Proxies and CA bundles come from the usual variables (``HTTPS_PROXY``, ``NO_PROXY``,
``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``), see the README's TLS section.

A ``RestClient`` starts no thread and holds no WebSocket: nothing can keep this process
alive after ``main()`` returns. Every call blocks for at most the configured timeout in
total (connect, send, answer, every retry and the backoff between them).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from decimal import Decimal
from typing import List, Optional

import binance_conn as bc

log = logging.getLogger("cron_job")

EXIT_OK, EXIT_BUG, EXIT_CONFIG, EXIT_TEMPORARY, EXIT_API = 0, 1, 2, 3, 4


def build_config() -> bc.Config:
    """A Config from the environment; raises bc.ValidationError for a bad value."""
    b = bc.Config.builder().with_exchange(os.environ.get("BINANCE_EXCHANGE", "binance")).from_env()
    if os.environ.get("BINANCE_REST_URL"):
        b = b.with_rest_url(os.environ["BINANCE_REST_URL"])
    raw_timeout = os.environ.get("BINANCE_TIMEOUT")
    if raw_timeout:
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise bc.ValidationError("BINANCE_TIMEOUT", raw_timeout, "must be a number of seconds") from None
        b = b.with_timeout(timeout)
    return b.build()


def fmt(d: Decimal) -> str:
    """A Decimal without trailing zeros and without an exponent (never via float)."""
    return f"{d.normalize():f}"


def run(rest: bc.RestClient, symbols: List[str], account: bool) -> None:
    for symbol in symbols:
        print(f"{symbol.upper()} {fmt(rest.ticker_price(symbol))}", flush=True)
    if account:
        for b in rest.account(omit_zero_balances=True)["balances"]:
            print(f"{b['asset']} free {fmt(b['free'])} locked {fmt(b['locked'])}", flush=True)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Print last prices (and balances) over REST; cron-friendly exit codes.")
    p.add_argument("symbols", nargs="*", default=["BTCUSDT"], help="symbols (default BTCUSDT)")
    p.add_argument("--account", action="store_true", help="also print non-zero balances (signed; needs a key)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG")
    args = p.parse_args(argv)
    # Logs go to stderr with the time: cron mails or appends them. binance_conn logs state
    # and reason in the text, e.g. "... retrying in 0.5 s" when a GET is retried.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    try:
        cfg = build_config()
    except bc.ValidationError as err:
        log.error("bad configuration: %s (field %s)", err, err.field)
        return EXIT_CONFIG

    try:
        with bc.RestClient(cfg) as rest:  # closes its connection pool on the way out
            run(rest, args.symbols, args.account)
    except bc.ValidationError as err:      # a bad argument (e.g. a symbol with a '/'), or no key for --account
        log.error("invalid request: %s", err)
        return EXIT_CONFIG
    except bc.ConnectionError as err:      # nothing reached Binance (refused, DNS, TLS, proxy, timeout)
        log.error("network error, try again later: %s", err)
        return EXIT_TEMPORARY
    except (bc.RateLimitError, bc.UnknownStatusError) as err:  # 429/418, 5xx: Binance asks us to wait
        log.error("temporary error, try again later: %s", err)
        return EXIT_TEMPORARY
    except bc.BinanceError as err:         # Binance answered and said no
        log.error("Binance API error %s (%s): %s", err.code, err.binance_code, err)
        return EXIT_API
    except Exception:  # noqa: BLE001 - the last resort of a job: log it with the traceback
        log.exception("unexpected error")
        return EXIT_BUG
    log.info("done: %d symbol(s)%s", len(args.symbols), " and balances" if args.account else "")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
