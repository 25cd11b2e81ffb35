"""A fleet of processes hammering one exchange through one shared budget (test helper, not a test).

``--role app``: a gunicorn-style master that imports the library, builds the config and makes
one call once (``--preload``), then forks ``--workers`` workers; ``--role cron``: one process, as a cron job
runs.  Each worker makes a RestClient, syncs its clock, drops ``ready-<name>`` in ``--out``,
waits for the ``go`` file (which holds the epoch second to stop at), then calls signed
``GET /api/v3/account`` (weight 20) in a loop and writes one record per call to
``<name>.json``: ``[t0, t1, outcome, limiter_mode]`` (epoch seconds).

The API secret comes in the environment (``FLEET_API_SECRET``), never on the command line.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
import time
from typing import Any, List


def _outcome(exc: BaseException) -> str:
    from binance_conn.errors import IPBannedError, RateLimitError

    details = getattr(exc, "details", None) or {}
    if isinstance(exc, IPBannedError):
        return "ban_fast" if details.get("fail_fast") else "ban_server"
    if isinstance(exc, RateLimitError):
        if details.get("client_side"):
            return "limit_client"
        return "rate_fast" if details.get("fail_fast") else "server_429"
    return f"error:{type(exc).__name__}:{str(exc)[:120]}"


def worker(name: str, config: Any, out: str, pause: float) -> None:
    from binance_conn.rest import RestClient

    client = RestClient(config)
    client.server_time()  # clock sync and the first booking before the race starts
    client.sync_clock()
    open(os.path.join(out, f"ready-{name}"), "w").close()
    go = os.path.join(out, "go")
    while not os.path.exists(go):
        time.sleep(0.005)
    end = 0.0
    while not end:
        try:
            with open(go) as fh:
                end = float(fh.read() or 0)
        except (OSError, ValueError):
            time.sleep(0.005)
    records: List[Any] = []
    while time.time() < end:
        t0 = time.time()
        try:
            client.account()
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - every outcome is recorded
            outcome = _outcome(exc)
        records.append([t0, time.time(), outcome, client.limiter_mode])
        if outcome != "ok":
            time.sleep(pause)  # a polite client backs off a little; fail-fast answers are measured anyway
    with open(os.path.join(out, f"{name}.json"), "w") as fh:
        json.dump(records, fh)
    client.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("app", "cron"), required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--rest-url", required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--weight-limit", type=int, required=True)
    parser.add_argument("--max-wait", type=float, default=0.05)
    parser.add_argument("--pause", type=float, default=0.002)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"%(levelname)s {args.role} %(process)d %(name)s: %(message)s")

    import binance_conn as bc  # preloaded by the master, as gunicorn --preload does

    # What a preloading app server does (gunicorn docs, Instagram's "gc.freeze"): the imported
    # modules leave the collector's generations, so a full collection in the hammering loop does
    # not pause nine processes at once for ~0.1-0.4 s on a 2-core machine (measured).
    gc.freeze()

    config = (bc.Config.builder().with_rest_url(args.rest_url).with_api_key(args.api_key)
              .with_api_secret(os.environ["FLEET_API_SECRET"])
              .with_rate_limit(max_wait=args.max_wait, weight_limit=args.weight_limit)
              .with_shared_limits(args.redis, key=args.key).build())
    if args.role == "cron":
        worker("cron", config, args.out, args.pause)
        return 0
    # a preloaded app that touched the API at import: the master's limiter, its Redis connection
    # and its locks are inherited by every worker (the fork hooks and redis-py's pid check at work)
    from binance_conn.rest import RestClient

    RestClient(config).server_time()
    children = []
    for i in range(args.workers):
        pid = os.fork()
        if pid == 0:  # a worker: never return into the master's code
            code = 0
            try:
                worker(f"worker{i}", config, args.out, args.pause)
            except BaseException:  # noqa: BLE001
                logging.getLogger("fleet").exception("worker %d failed", i)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children.append(pid)
    failed = 0
    for pid in children:
        _pid, status = os.waitpid(pid, 0)
        failed += os.waitstatus_to_exitcode(status) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
