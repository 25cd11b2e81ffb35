"""The fleet's cron job: one signed call sharing the fleet's rate limits; exit 0 ok, 1 failed.

    cd examples/fleet && python cron_job.py            # non-zero balances and the open-order count

    # crontab: every 5 minutes
    */5 * * * *  cd /srv/fleet && .venv/bin/python cron_job.py >>/var/log/fleet-cron.log 2>&1

Its config (settings.py) has ``with_shared_limits(REDIS_URL)``: the job's request weight counts
against the same budget as the web workers' and the hub's, and a 429/418 ban any of them got
refuses the job's calls at once instead of earning a longer ban. Redis unreachable: the job
limits locally, logs a WARNING and still runs.

Last line on stderr: ``cron_job: OK ...`` (exit 0) or ``cron_job: FAILED <why>; <what to do>``
(exit 1). Environment: see settings.py (BINANCE_API_KEY / BINANCE_API_SECRET needed).
A RestClient starts no thread: nothing keeps the process alive after ``main()`` returns.
"""

from __future__ import annotations

import logging
import sys
from typing import List, Optional

import settings

import binance_conn as bc

log = logging.getLogger("cron_job")


def job(rest: bc.RestClient) -> str:
    """The signed work; returns a one-line summary."""
    acc = rest.account(omit_zero_balances=True)
    for b in acc["balances"]:
        print(f"{b['asset']} free {b['free'].normalize():f} locked {b['locked'].normalize():f}", flush=True)
    orders = rest.open_orders()
    print(f"open orders: {len(orders)}", flush=True)
    return f"{len(acc['balances'])} balance(s), {len(orders)} open order(s)"


def main(argv: Optional[List[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        cfg = settings.build_config()
        with bc.RestClient(cfg) as rest:
            summary = job(rest)
    except bc.ValidationError as err:   # bad settings, or no API key for a signed call
        return _failed(f"invalid configuration or request: {err}", "fix the settings; retrying will not help")
    except bc.RateLimitError as err:    # 429/418, possibly earned by another process of the fleet
        return _failed(f"rate limited: {err}", "retry later" + (f" (in {err.retry_after:.0f} s)"
                                                                   if err.retry_after else ""))
    except (bc.ConnectionError, bc.UnknownStatusError) as err:
        return _failed(f"Binance unreachable or failing: {err}", "retry later")
    except bc.BinanceError as err:      # Binance answered and said no (bad key, permissions ...)
        return _failed(f"Binance refused ({err.code}, {err.binance_code}): {err}", "check the key and its permissions")
    except Exception:  # noqa: BLE001 - the last resort of a job: the traceback goes to the log
        log.exception("unexpected error")
        return _failed("unexpected error (traceback above)", "report it")
    print(f"cron_job: OK {summary} (limits shared via {settings.redis_for_logs()})", file=sys.stderr, flush=True)
    return 0


def _failed(why: str, todo: str) -> int:
    print(f"cron_job: FAILED {why}; {todo}", file=sys.stderr, flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
