"""gunicorn settings for the Flask example: start the connector in each worker, stop it at exit.

    gunicorn -c gunicorn.conf.py app:app              # one connector per worker
    gunicorn -c gunicorn.conf.py --preload app:app    # connector built in the master, started per worker

Why in post_fork: a connector's threads and sockets never survive a fork. gunicorn forks
its workers from the master, so the connector must be *started* in the worker. With
``--preload`` the app module (and its connector) is imported once in the master before
the fork: the worker's copy is STOPPED, has dropped the inherited sockets without touching
the master's, and keeps every subscription and callback, so ``start()`` here is all it
needs. Without ``--preload`` the worker creates its own connector here (or lazily on the
first request).
"""

from __future__ import annotations

import logging
import os
import sys

# Let "app:app" and "import feed" resolve wherever gunicorn is started from.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# TERM: workers finish their requests, then worker_exit stops the connector (well under 5 s).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Recycle workers after N requests (0 = never); a recycled worker stops its connector in
# worker_exit and the new worker starts its own in post_fork.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

# The library logs under "binance_conn.*" and is silent until logging is configured. The
# state and the reason are in the text, e.g.
#   ... INFO binance_conn.supervisor: market session CONNECTED: all streams subscribed
logging.basicConfig(level=logging.INFO,
                    format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")


def post_fork(server, worker):  # type: ignore[no-untyped-def]
    """In the new worker, before it loads the app (without --preload) or serves requests."""
    import feed

    conn = feed.start()  # creates the connector here unless --preload built it in the master
    server.log.info("worker %s: connector started (%s)", worker.pid, conn.state.value)


def worker_exit(server, worker):  # type: ignore[no-untyped-def]
    """In the worker, on its way out (TERM, HUP, max_requests, timeout): close the connections."""
    import feed

    clean = feed.stop(timeout=5.0)
    server.log.info("worker %s: connector stopped%s", worker.pid, "" if clean else " (timed out)")
