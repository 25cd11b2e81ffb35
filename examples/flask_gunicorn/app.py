"""A Flask app that serves Binance prices received over a WebSocket, under gunicorn.

    pip install . flask gunicorn          # at the repository root: binance_conn and the servers
    cd examples/flask_gunicorn

    # Offline: run the fake exchange in another terminal and point the app at it
    python -m binance_conn.testing        # prints REST / WS URLs
    export BINANCE_REST_URL=http://127.0.0.1:<port> BINANCE_WS_URL=ws://127.0.0.1:<port>

    # Pattern A (recommended): one connector per worker, created in the worker
    gunicorn -c gunicorn.conf.py app:app
    # Pattern B: --preload; this module builds the connector at import time in the
    # master, every worker inherits a STOPPED copy and post_fork starts it
    gunicorn -c gunicorn.conf.py --preload app:app
    # gthread workers work the same way
    gunicorn -c gunicorn.conf.py -k gthread --threads 4 app:app

    curl localhost:8000/price      # the latest trade this worker received
    curl localhost:8000/health     # 200 when ready, 503 otherwise; state and a stats summary

Without gunicorn (``flask --app app run``) there is no post_fork hook: the first request
starts the connector lazily. Note that ``flask run --debug`` has a reloader that imports
this module twice, in two processes, like Django's runserver (see examples/django).
"""

from __future__ import annotations

import logging
import os
from typing import Any, Dict, Tuple

import feed
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

# Under gunicorn, gunicorn.conf.py has configured logging already (then this is a no-op);
# under `flask run` it makes binance_conn's connection lines visible.
logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")

# Pattern B: create the connector at import time (subscriptions registered, no thread,
# no socket). With --preload this runs once, in the master; without --preload it runs in
# each worker, where post_fork has already created it (then this returns that one).
conn = feed.connector()

app = Flask(__name__)


def _summary() -> Dict[str, Any]:
    """A short, JSON-friendly digest of conn.stats() for a health endpoint."""
    st = conn.stats()
    market = st.get("market", {})
    streams = {
        name: {"events": s.get("events"), "last_message_age": s.get("last_message_age")}
        for name, s in st.get("streams", {}).items()
    }
    connections = market.get("connections", [])
    return {
        "reconnects": market.get("reconnects"),
        "zombies_replaced": market.get("zombies_replaced"),
        "rest_reachable": market.get("rest_reachable"),
        "streams": streams,
        "failed_attempts": sum(c.get("failed_attempts") or 0 for c in connections),
        # Why the last connect attempt failed (certificate, proxy_auth, refused, ...), if any.
        "last_connect_error": market.get("last_connect_error")
        or next((c.get("last_connect_error") for c in connections if c.get("last_connect_error")), None),
        "last_loss_reason": next((c.get("last_loss_reason") for c in connections if c.get("last_loss_reason")), None),
    }


@app.get("/price")
def price() -> ResponseReturnValue:
    feed.ensure_started()  # a no-op when post_fork started it; the lazy start for servers without hooks
    return jsonify(pid=os.getpid(), symbol=feed.SYMBOL, state=str(conn.state.value), **feed.latest())


@app.get("/health")
def health() -> Tuple[Any, int]:
    feed.ensure_started()
    ready = conn.ready.is_set()
    body = jsonify(pid=os.getpid(), ready=ready, state=str(conn.state.value), stats=_summary())
    return body, (200 if ready else 503)
