"""The examples' JSON carries Decimals plainly: a zero balance of 8 decimals is "0.00000000", never
``str(Decimal)``'s "0E-8" (fleet ``/account``, the fleet worker's trades and best bid/ask)."""

from __future__ import annotations

import pathlib
import sys
from decimal import Decimal
from typing import Any, Dict, Iterator, Tuple

import pytest

import binance_conn as bc

FLEET = pathlib.Path(__file__).resolve().parents[2] / "examples" / "fleet"


@pytest.fixture
def fleet(monkeypatch: Any) -> Iterator[Tuple[Any, Any]]:
    """The fleet example's ``app`` and ``worker`` modules (imported from examples/fleet, then forgotten)."""
    pytest.importorskip("flask")
    monkeypatch.syspath_prepend(str(FLEET))
    for name in ("app", "worker", "settings"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    import app
    import worker
    yield app, worker
    for name in ("app", "worker", "settings"):
        sys.modules.pop(name, None)


class _Rest:
    def account(self, omit_zero_balances: bool = False) -> Dict[str, Any]:
        return {"canTrade": True, "balances": [
            {"asset": "BTC", "free": Decimal("0.00100000"), "locked": Decimal("0.00000000")},
            {"asset": "USDT", "free": Decimal("100000.00000000"), "locked": Decimal("0E-8")}]}


def test_account_balances_are_plain_decimals(fleet: Tuple[Any, Any], monkeypatch: Any) -> None:
    app, worker = fleet
    monkeypatch.setattr(worker, "rest", lambda: _Rest())
    resp = app.app.test_client().get("/account")
    assert resp.status_code == 200
    assert resp.get_json()["balances"] == {"BTC": {"free": "0.00100000", "locked": "0.00000000"},
                                           "USDT": {"free": "100000.00000000", "locked": "0.00000000"}}


def test_worker_trades_and_tops_are_plain_decimals(fleet: Tuple[Any, Any], monkeypatch: Any) -> None:
    _, worker = fleet
    monkeypatch.setattr(worker, "_trades", {})
    monkeypatch.setattr(worker, "_tops", {})
    worker._on_trade(bc.Trade("binance", "BTCUSDT", 1, Decimal("1.0E+2"), Decimal("0.00000000"), 1, True, 1))
    worker._on_book_ticker(bc.BookTicker("binance", "BTCUSDT", 7, Decimal("43210.10000000"), Decimal("0E-8"),
                                         Decimal("43210.90000000"), Decimal("3.00000000"), None, None))
    got = worker.latest("BTCUSDT")
    assert (got["trade"]["price"], got["trade"]["qty"]) == ("100", "0.00000000")
    assert got["top"]["bid_qty"] == "0.00000000" and got["top"]["bid"] == "43210.10000000"
