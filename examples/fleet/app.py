"""The fleet's web app: market data from the hub (through Redis), signed calls with shared limits.

    cd examples/fleet
    gunicorn -c gunicorn.conf.py app:app          # 8 workers (GUNICORN_WORKERS), no --preload

    curl localhost:8000/price/BTCUSDT             # latest trade and best bid/ask this worker saw
    curl localhost:8000/health                    # 200 when the hub is connected and the feed reads
    curl localhost:8000/account                   # signed: non-zero balances
    curl -X POST 'localhost:8000/order/test?symbol=BTCUSDT&side=BUY&quantity=0.001'   # signed: validate an order

Every worker has its own RedisFeed and RestClient (worker.py), started in gunicorn's
``post_fork``; no worker connects to Binance's streams (the hub does, once). See README.md.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Tuple

import settings
import worker
from flask import Flask, jsonify, request

import binance_conn as bc

# Under gunicorn, gunicorn.conf.py has configured logging already (then this is a no-op).
logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("example.app")

app = Flask(__name__)

Reply = Tuple[Any, int]


@app.get("/health")
def health() -> Reply:
    h = worker.health()
    return jsonify(pid=os.getpid(), **h), (200 if h["ready"] else 503)


@app.get("/price/<symbol>")
def price(symbol: str) -> Reply:
    symbol = symbol.upper()
    if symbol not in settings.SYMBOLS:
        return jsonify(pid=os.getpid(), error=f"not served here: {symbol} (BINANCE_SYMBOLS)"), 404
    return jsonify(pid=os.getpid(), symbol=symbol, state=worker.feed().state.value, **worker.latest(symbol)), 200


@app.get("/account")
def account() -> Reply:
    try:
        acc = worker.rest().account(omit_zero_balances=True)
    except bc.BinanceError as err:
        return _error(err)
    # plain(): "0.00000000", not str()'s "0E-8" (a zero Decimal with 8 decimals)
    balances = {b["asset"]: {"free": worker.plain(b["free"]), "locked": worker.plain(b["locked"])}
                for b in acc["balances"]}
    return jsonify(pid=os.getpid(), can_trade=acc.get("canTrade"), balances=balances), 200


@app.post("/order/test")
def order_test() -> Reply:
    """Validate a MARKET order on Binance without placing it (``POST /api/v3/order/test``)."""
    args = request.args
    try:
        worker.rest().test_order(args.get("symbol", settings.SYMBOLS[0]).upper(), args.get("side", "BUY").upper(),
                                 "MARKET", quantity=args.get("quantity", "0.001"))
    except bc.BinanceError as err:
        return _error(err)
    return jsonify(pid=os.getpid(), ok=True), 200


def _error(err: bc.BinanceError) -> Reply:
    """Binance's answer to the client: 400 for our mistakes, 429/503 for 'later', 502 for a refusal."""
    if isinstance(err, bc.ValidationError):
        status = 400
    elif isinstance(err, bc.RateLimitError):  # a 429/418 any process of the fleet got: every worker waits
        status = 429
    elif isinstance(err, (bc.ConnectionError, bc.UnknownStatusError)):
        status = 503
    else:
        status = 502
    log.warning("pid %d: %s %s: %s", os.getpid(), request.path, err.code, err)
    body = jsonify(pid=os.getpid(), error=str(err), code=err.code, binance_code=err.binance_code)
    if isinstance(err, bc.RateLimitError) and err.retry_after:
        body.headers["Retry-After"] = str(int(err.retry_after + 0.999))
    return body, status
