"""Futures order books of ``FakeBinance(product="usdm"|"coinm")`` (binance-futures-reference.md sections 3.3, 6).

Diff depth carries ``pu`` (the previous event's ``u``) and ``T``; the fake's update ids are
contiguous, so ``pu`` is ``U - 1`` -- after a hidden update (``skip_depth_updates``) it names the
hidden ``u``, which a client's ``pu == previous u`` check catches.  Snapshots come from
``GET /fapi/v1/depth`` (COIN-M ``/dapi/v1/depth``): limits 5, 10, 20, 50, 100, 500, 1000 only,
weights 2/5/10/20, and ``E``/``T`` besides ``lastUpdateId``, ``bids``, ``asks``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Tuple

from ._util import JSON, BinanceFault

if TYPE_CHECKING:
    from ._rest import RestApp

__all__ = ["futures_depth_payload", "futures_book_routes", "FUTURES_DEPTH_LIMITS"]

FUTURES_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def futures_depth_payload(product: str, payload: JSON, first: int, now: int) -> JSON:
    """``payload`` as the product sends it: unchanged on spot; futures add ``T`` and ``pu``."""
    if product == "spot":
        return payload
    out = dict(payload)
    out["T"] = now
    out["pu"] = first - 1
    return out


def _limit(p: Dict[str, str]) -> int:
    raw = p.get("limit") or "500"
    if not raw.isdigit() or int(raw) not in FUTURES_DEPTH_LIMITS:
        raise BinanceFault(-1130, "Data sent for parameter 'limit' is not valid.")
    return int(raw)


def _weight(p: Dict[str, str]) -> int:
    try:
        limit = _limit(p)
    except BinanceFault:
        return 2
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def futures_book_routes(app: RestApp) -> Dict[Tuple[str, str], Tuple[Callable[[Dict[str, str]], Any],
                                                                     Callable[[Dict[str, str]], int], bool]]:
    """The depth snapshot route of the fake's futures product (none on spot)."""
    fake = app.fake
    if fake.product == "spot":
        return {}

    def depth(p: Dict[str, str]) -> JSON:
        sym = app._sym(p)
        now = fake.clock.now_ms()
        snap = fake._snapshot(sym, _limit(p))
        return {"lastUpdateId": snap["lastUpdateId"], "E": now, "T": now, "bids": snap["bids"], "asks": snap["asks"]}

    prefix = "/fapi/v1" if fake.product == "usdm" else "/dapi/v1"
    return {("GET", f"{prefix}/depth"): (depth, _weight, False)}
