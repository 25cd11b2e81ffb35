from __future__ import annotations

import os

from django.http import HttpRequest, JsonResponse

from . import feed


def price(request: HttpRequest) -> JsonResponse:
    conn = feed.connector()
    state = conn.state.value if conn is not None else "NOT STARTED"
    return JsonResponse({"pid": os.getpid(), "symbol": feed.SYMBOL, "state": state, **feed.latest()})


def health(request: HttpRequest) -> JsonResponse:
    conn = feed.connector()
    ready = conn is not None and conn.ready.is_set()
    body = {"pid": os.getpid(), "ready": ready, "state": conn.state.value if conn is not None else "NOT STARTED"}
    if conn is not None:
        market = conn.stats().get("market", {})
        body.update(reconnects=market.get("reconnects"), last_connect_error=market.get("last_connect_error"))
    return JsonResponse(body, status=200 if ready else 503)
