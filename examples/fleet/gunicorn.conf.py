"""gunicorn settings for the fleet's web app: 8 workers, each with its own RedisFeed and RestClient.

    gunicorn -c gunicorn.conf.py app:app

No ``--preload``: each worker creates its feed in ``post_fork``, after the fork (a feed's threads
and Redis connections never survive a fork). The workers hold no Binance connection, so 8 (or 32)
workers cost Binance nothing; the hub holds the streams once.
"""

from __future__ import annotations

import logging
import os
import sys

# Let "app:app", "import worker" and "import settings" resolve wherever gunicorn is started from.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "8"))
# TERM: workers finish their requests, then worker_exit stops the feed (well under 5 s).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Recycling workers is cheap here (no Binance connection per worker): a new worker's feed
# starts at the newest event.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

logging.basicConfig(level=logging.INFO,
                    format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    """In the new worker, before it serves requests: its own feed and REST client."""
    import worker as fleet_worker

    fleet_worker.start()
    server.log.info("worker %s: feed started", worker.pid)


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    """In the worker, on its way out (TERM, HUP, max_requests, timeout): stop the feed."""
    import worker as fleet_worker

    clean = fleet_worker.stop(timeout=5.0)
    server.log.info("worker %s: feed stopped%s", worker.pid, "" if clean else " (timed out)")
