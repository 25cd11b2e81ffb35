"""Typed USD-M and COIN-M futures methods, market data and plumbing (see :mod:`.futures`).

The mixins :class:`FuturesMarketApi` and :class:`.futures.FuturesApi`, over the tables of
:mod:`binance_conn._core.spec_futures`;
``_futures_product`` (``"usdm"`` or ``"coinm"``) picks ``/fapi`` or ``/dapi``.  Several names
repeat spot ones (``new_order``, ``klines``, ``account`` ...) with the futures endpoint and
parameters: the futures REST client puts this mixin before the spot ones.

* Prices and quantities: ``Decimal``/``str``/``int`` in (a float raises ``ValidationError``
  unless the config allows it); answers keep Binance's shape with every price, quantity,
  amount and rate as ``Decimal`` (:data:`FUTURES_DECIMAL_KEYS`).
* ``new_order`` sends LIMIT/MARKET to ``POST /fapi/v1/order`` and the conditional types
  (STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET) to the Algo
  Service (``POST /fapi/v1/algoOrder``, ``algoType=CONDITIONAL``, ``stop_price`` sent as
  ``triggerPrice``): ``/order`` answers ``-4120`` for them since 2025-12-09.
* Every placement carries a client id (``newClientOrderId`` / ``clientAlgoId``: the caller's
  ``client_order_id`` or a generated one); an unknown outcome raises
  :class:`UnknownStatusError` with it, and ``get_order``/``cancel_order`` by client id also
  find an algo order of that id, so ``reconcile_order`` covers both id spaces.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence

from .._core import catalog
from .._core.endpoints import Endpoint
from .._core.params import check_client_order_id, decimal_or_text, decimalize_depth, new_client_order_id
from .._core.streams import validate_interval
from ..errors import UnknownStatusError, ValidationError
from .base import JSON, ApiBase, params_of

__all__ = ["FuturesMarketApi", "FUTURES_DECIMAL_KEYS", "futures_decimalize", "choice", "limit_of", "named"]

FUTURES_DECIMAL_KEYS: FrozenSet[str] = frozenset({
    # orders and algo orders
    "price", "origQty", "executedQty", "cumQty", "cumQuote", "cumBase", "avgPrice", "stopPrice", "activatePrice",
    "priceRate", "triggerPrice", "quantity", "callbackRate", "actualPrice", "actualQty",
    # trades, income
    "qty", "quoteQty", "baseQty", "commission", "realizedPnl", "income",
    # positions
    "positionAmt", "entryPrice", "breakEvenPrice", "markPrice", "unRealizedProfit", "unrealizedProfit",
    "liquidationPrice", "isolatedMargin", "notional", "notionalValue", "isolatedWallet", "initialMargin",
    "maintMargin", "positionInitialMargin", "openOrderInitialMargin", "bidNotional", "askNotional",
    "maxNotionalValue", "maxQty",
    # account and balance
    "balance", "crossWalletBalance", "crossUnPnl", "availableBalance", "maxWithdrawAmount", "walletBalance",
    "marginBalance", "totalInitialMargin", "totalMaintMargin", "totalWalletBalance", "totalUnrealizedProfit",
    "totalMarginBalance", "totalPositionInitialMargin", "totalOpenOrderInitialMargin", "totalCrossWalletBalance",
    "totalCrossUnPnl",
    # mark price, funding, open interest, tickers, commission
    "indexPrice", "estimatedSettlePrice", "lastFundingRate", "interestRate", "fundingRate", "openInterest",
    "lastPrice", "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume", "priceChange", "priceChangePercent",
    "weightedAvgPrice", "lastQty", "bidPrice", "bidQty", "askPrice", "askQty", "makerCommissionRate",
    "takerCommissionRate",
})
"""Keys whose string values are prices, quantities, amounts or rates in futures answers."""

_KLINE_DECIMALS = frozenset({1, 2, 3, 4, 5, 7, 9, 10})
_SNAKE = re.compile(r"_([a-z0-9])")
_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)


def futures_decimalize(obj: Any) -> Any:
    """String values under :data:`FUTURES_DECIMAL_KEYS` -> ``Decimal``, in place (dicts and lists walked;
    a value that is no decimal string, such as ``""``, stays as it is).  Returns ``obj``."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, str):
                if key in FUTURES_DECIMAL_KEYS:
                    obj[key] = decimal_or_text(value)
            elif isinstance(value, (dict, list)):
                futures_decimalize(value)
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)):
                futures_decimalize(item)
    return obj


def named(ep: Endpoint, extra: Mapping[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for name, value in extra.items():
        if "_" in name:
            camel = _SNAKE.sub(lambda m: m.group(1).upper(), name)
            if camel not in ep.params:
                raise ValidationError(name, value, f"not a parameter of {ep.name} (documented: {', '.join(ep.params)})")
            name = camel
        out[name] = value
    return out


def choice(field: str, value: Optional[str], choices: Sequence[str]) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or str.__str__(value).upper() not in choices:
        raise ValidationError(field, value, "one of " + ", ".join(choices))
    return str.__str__(value).upper()


def limit_of(value: Optional[int], maximum: int) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationError("limit", value, f"an int in 1..{maximum}")
    return value


def _kline_rows(rows: Any) -> Any:
    if isinstance(rows, list):
        for i, row in enumerate(rows):
            if isinstance(row, list):
                rows[i] = [decimal_or_text(v) if n in _KLINE_DECIMALS else v for n, v in enumerate(row)]
    return rows


class FuturesMarketApi(ApiBase):
    """Futures plumbing and market-data endpoints (NONE); :class:`.futures.FuturesApi` adds trading and
    account.  Each method names its endpoint and weight (USD-M; COIN-M differences in :mod:`.spec_futures`)."""

    _futures_product: str = "usdm"
    _allow_float: bool = False

    # ---------------------------------------------------------------- plumbing

    def _fep(self, name: str) -> Endpoint:
        return catalog.for_product(self._futures_product).by_name[name]

    def _f(self, name: str, params: Dict[str, Any], extra: Mapping[str, Any], timeout: Any) -> Any:
        """Send one futures endpoint with Binance-named ``params`` (+ ``extra``); decimalized answer."""
        ep = self._fep(name)
        if extra:
            params.update(named(ep, extra))
        params = params_of(**params)
        if not ep.places_order or ep.order_id_param is None:
            return futures_decimalize(self._call(ep, params, timeout=timeout))
        id_param = ep.order_id_param
        given = params.get(id_param)
        cid = new_client_order_id() if given is None else check_client_order_id(given, "client_order_id")
        params[id_param] = cid
        symbol = params.get("symbol")
        try:
            result = futures_decimalize(self._call(ep, params, timeout=timeout, client_order_id=cid, symbol=symbol))
        except UnknownStatusError as err:
            err.client_order_id = cid
            err.symbol = symbol
            err.details["client_order_id"] = cid
            if id_param == "clientAlgoId":
                err.details["client_algo_id"] = cid
            raise
        if id_param == "newClientOrderId":  # algo orders are not orders yet (ALGO_UPDATE reports them)
            self._placed(result)
        return result

    # ---------------------------------------------------------------- market data (NONE)

    def ping(self, *, timeout: Any = None, **extra: Any) -> None:
        """``GET /fapi/v1/ping`` (weight 1): raises if the API is unreachable."""
        self._f("ping", {}, extra, timeout)

    def server_time(self, *, timeout: Any = None, **extra: Any) -> int:
        """``GET /fapi/v1/time`` (weight 1): the server's time in epoch ms."""
        return int(self._f("server_time", {}, extra, timeout)["serverTime"])

    def exchange_info(self, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /fapi/v1/exchangeInfo`` (weight 1): symbols with ``pricePrecision``/``quantityPrecision``
        ("system precision": round with the filters' ``tickSize``/``stepSize``), ``contractType``,
        ``deliveryDate``, ``marginAsset``, ``triggerProtect``, ``liquidationFee``, ``marketTakeBound`` (COIN-M:
        ``contractSize``, ``contractStatus``), filters as sent (``MIN_NOTIONAL.notional``).  Over REST the
        answer is cached and seeds the weight limiter (2,400/min) from ``rateLimits``."""
        return self._exchange_info_request(params_of(**extra), timeout)

    def _exchange_info_request(self, params: Dict[str, Any], timeout: Any) -> JSON:
        return self._call(self._fep("exchange_info"), params, timeout=timeout)

    def depth(self, symbol: str, limit: Optional[int] = 500, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /fapi/v1/depth`` (weight: limit 5-50 2, 100 5, 500 10, 1000 20): ``{"lastUpdateId", "E",
        "T", "bids", "asks"}`` with Decimal ``[price, qty]`` levels.  ``limit`` one of 5, 10, 20, 50, 100, 500,
        1000."""
        if limit is not None and (isinstance(limit, bool) or limit not in _DEPTH_LIMITS):
            raise ValidationError("limit", limit, "one of 5, 10, 20, 50, 100, 500, 1000")
        return decimalize_depth(self._f("depth", {"symbol": symbol, "limit": limit}, extra, timeout))

    def trades(self, symbol: str, *, limit: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/trades`` (weight 5): recent trades (limit <= 1000)."""
        result: List[JSON] = self._f("trades", {"symbol": symbol, "limit": limit_of(limit, 1000)}, extra, timeout)
        return result

    def agg_trades(self, symbol: str, *, from_id: Optional[int] = None, start_time: Optional[int] = None,
                   end_time: Optional[int] = None, limit: Optional[int] = None, timeout: Any = None,
                   **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/aggTrades`` (weight 20): aggregate trades, Binance's short keys (``p``, ``q`` Decimal)."""
        data = self._f("agg_trades", {"symbol": symbol, "fromId": from_id, "startTime": start_time,
                                      "endTime": end_time, "limit": limit_of(limit, 1000)}, extra, timeout)
        for row in data if isinstance(data, list) else ():
            for key in ("p", "q"):
                if key in row:
                    row[key] = decimal_or_text(row[key])
        return data  # type: ignore[no-any-return]

    def _kl(self, name: str, symbol: str, interval: str, start_time: Optional[int], end_time: Optional[int],
            limit: Optional[int], timeout: Any, extra: Mapping[str, Any]) -> List[List[Any]]:
        params = {"symbol": symbol, "interval": validate_interval(interval), "startTime": start_time,
                  "endTime": end_time, "limit": limit_of(limit, 1500)}
        return _kline_rows(self._f(name, params, extra, timeout))  # type: ignore[no-any-return]

    def klines(self, symbol: str, interval: str, *, start_time: Optional[int] = None, end_time: Optional[int] = None,
               limit: Optional[int] = None, timeout: Any = None, **extra: Any) -> List[List[Any]]:
        """``GET /fapi/v1/klines`` (weight by limit: <100 1, <500 2, <=1000 5, more 10; default 500, max 1500):
        spot's positional rows with prices and volumes as Decimal."""
        return self._kl("klines", symbol, interval, start_time, end_time, limit, timeout, extra)

    def mark_price_klines(self, symbol: str, interval: str, *, start_time: Optional[int] = None,
                          end_time: Optional[int] = None, limit: Optional[int] = None, timeout: Any = None,
                          **extra: Any) -> List[List[Any]]:
        """``GET /fapi/v1/markPriceKlines`` (weight as :meth:`klines`): klines of the mark price."""
        return self._kl("mark_price_klines", symbol, interval, start_time, end_time, limit, timeout, extra)

    def ticker_price(self, symbol: str, *, timeout: Any = None, **extra: Any) -> Decimal:
        """``GET /fapi/v2/ticker/price`` (COIN-M ``/dapi/v1/ticker/price``; weight 1): the last price.
        (COIN-M answers a one-element list; its price is returned.)"""
        if not isinstance(symbol, str) or not symbol:
            raise ValidationError("symbol", symbol, "a symbol name (ticker_prices() for all)")
        data = self._f("ticker_price", {"symbol": symbol}, extra, timeout)
        row = data[0] if isinstance(data, list) else data
        return Decimal(str(row["price"]))

    def ticker_prices(self, *, timeout: Any = None, **extra: Any) -> Dict[str, Decimal]:
        """``GET /fapi/v2/ticker/price`` without a symbol (weight 2): ``{"BTCUSDT": Decimal(...), ...}``."""
        data = self._f("ticker_price", {}, extra, timeout)
        return {str(r["symbol"]): Decimal(str(r["price"])) for r in (data if isinstance(data, list) else [data])}

    def book_ticker(self, symbol: Optional[str] = None, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /fapi/v1/ticker/bookTicker`` (weight 2 with a symbol, 5 without)."""
        return self._f("book_ticker", {"symbol": symbol}, extra, timeout)

    def ticker_24hr(self, symbol: Optional[str] = None, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /fapi/v1/ticker/24hr`` (weight 1 with a symbol, 40 without)."""
        return self._f("ticker_24hr", {"symbol": symbol}, extra, timeout)

    def premium_index(self, symbol: Optional[str] = None, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /fapi/v1/premiumIndex`` (weight 1 with a symbol, 10 without; COIN-M 10): mark price, index
        price, ``lastFundingRate``, ``nextFundingTime`` (one dict for a symbol on USD-M, else a list)."""
        return self._f("premium_index", {"symbol": symbol}, extra, timeout)

    def mark_price(self, symbol: str, *, timeout: Any = None, **extra: Any) -> Decimal:
        """The ``markPrice`` of :meth:`premium_index` for one symbol."""
        data = self.premium_index(symbol, timeout=timeout, **extra)
        row = data[0] if isinstance(data, list) else data
        return Decimal(str(row["markPrice"]))

    def funding_rate_history(self, symbol: Optional[str] = None, *, start_time: Optional[int] = None,
                             end_time: Optional[int] = None, limit: Optional[int] = None, timeout: Any = None,
                             **extra: Any) -> List[JSON]:
        """``GET /fapi/v1/fundingRate`` (weight 1; 500 per 5 min per IP shared with fundingInfo):
        ``[{"symbol", "fundingRate", "fundingTime", "markPrice"}]`` (limit <= 1000)."""
        result: List[JSON] = self._f("funding_rate_history", {"symbol": symbol, "startTime": start_time,
                                                              "endTime": end_time, "limit": limit_of(limit, 1000)},
                                     extra, timeout)
        return result

    def open_interest(self, symbol: str, *, timeout: Any = None, **extra: Any) -> JSON:
        """``GET /fapi/v1/openInterest`` (weight 1): ``{"openInterest" (Decimal), "symbol", "time"}``."""
        return self._f("open_interest", {"symbol": symbol}, extra, timeout)
