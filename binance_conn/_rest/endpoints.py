"""The typed endpoint methods of :class:`binance_conn.rest.RestClient` (README "REST").

Thin methods over one ``request()``: they name parameters the Python way,
leave out ``None`` values and turn prices/quantities of the answer into
``Decimal``.  Kept in their own module so ``rest.py`` stays about I/O.
Every method may be called from any thread and blocks for one request
(plus retries/backoff for safe ones).
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, Union

from .._core.numbers import RoundingMode, SymbolFilters, to_decimal
from .._core.params import decimalize
from ..errors import NotFoundError, UnknownStatusError, ValidationError
from .limiter import HostLimiter

__all__ = ["RestEndpoints"]

Number = Union[Decimal, int, str]
JSON = Any


def _json_copy(value: Any) -> Any:
    """A deep copy of parsed JSON (dicts, lists and immutable scalars such as Decimal);
    several times faster than ``copy.deepcopy`` on a full exchangeInfo document."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


class RestEndpoints:
    """Mixin of typed helpers; the concrete client provides ``request``."""

    _xinfo: Dict[Any, Tuple[float, Any]]
    _xinfo_ttl: float
    _limiter: HostLimiter
    _lock: threading.Lock
    _allow_float: bool
    # Typed account methods live in _api.AccountApi (after this mixin in the MRO); declared, not defined,
    # so they are not shadowed here.
    get_order: Callable[..., JSON]

    _product_spec: Any  # the client's products.ProductSpec (paths of the product)
    _futures_factory: Optional[Callable[[type], type]] = None  # set by _rest/futures.py when it loads

    def __new__(cls, config: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Product dispatch: a USD-M or COIN-M config (``config.exchange.product``) makes the futures
        variant of ``cls`` (:func:`._rest.futures.futures_class`), so ``RestClient(cfg)`` is futures-aware."""
        exchange = getattr(config, "exchange", None)
        factory = RestEndpoints._futures_factory
        if factory is not None and getattr(exchange, "is_futures", False) is True \
                and not getattr(cls, "_is_futures", False):
            cls = factory(cls)
        return super().__new__(cls)

    def request(self, method: str, path: str, params: Optional[Mapping[str, Any]] = None,
                signed: bool = False, timeout: Any = None) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    # ---------------------------------------------------------------- exchangeInfo cache

    def _exchange_info_request(self, params: Dict[str, Any], timeout: Any) -> JSON:
        """REST side of ``exchange_info`` (the typed method lives in ``_api/market.py``): served
        from the cache for ``rest.exchange_info_ttl`` s; the caller gets its own copy, so
        changing it never changes the cache (or what other callers get)."""
        return _json_copy(self._cached_exchange_info(params, timeout))

    def _exchange_info(self, symbol: Optional[str]) -> JSON:
        """The cached document itself: read-only for the library's own use."""
        return self._cached_exchange_info({"symbol": symbol.upper()} if symbol else {}, None)

    def _cached_exchange_info(self, params: Mapping[str, Any], timeout: Any) -> JSON:
        """``GET /api/v3/exchangeInfo`` once per TTL and parameter set; seeds the shared weight
        limiter from ``rateLimits`` (unless the config pins ``rate_limit.weight_limit``)."""
        key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))
        now = time.monotonic()
        with self._lock:
            cached = self._xinfo.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        data = self.request("GET", self._product_spec.exchange_info_path, params or None, timeout=timeout)
        if isinstance(data, dict) and isinstance(data.get("rateLimits"), list):
            self._limiter.configure_from_exchange_info(data["rateLimits"])
        with self._lock:
            self._xinfo[key] = (now + self._xinfo_ttl, data)
        return data

    # ---------------------------------------------------------------- trading

    def reconcile_order(self, err: UnknownStatusError) -> Optional[JSON]:
        """After :class:`UnknownStatusError` from :meth:`new_order` (or another placement): the
        order's real state (it was placed), or None (it does not exist).  For an order list
        (the error's ``details["list_client_order_id"]``) the list's status
        (``GET /api/v3/orderList``), or None.

        Raises:
            ValidationError: ``err`` carries no client order id / symbol.
            BinanceError: the query itself failed (try again later).
        """
        cid = getattr(err, "client_order_id", None)
        symbol = getattr(err, "symbol", None)
        if not cid or not symbol:
            raise ValidationError("err", err, "an UnknownStatusError from new_order (with client_order_id)")
        try:
            if err.details.get("list_client_order_id") == cid:
                return decimalize(self.request("GET", "/api/v3/orderList", {"origClientOrderId": cid}, signed=True))
            return self.get_order(symbol, client_order_id=cid)
        except NotFoundError:
            return None

    # ---------------------------------------------------------------- filters

    def symbol_filters(self, symbol: str) -> SymbolFilters:
        """The symbol's PRICE_FILTER / LOT_SIZE / NOTIONAL rules (from cached exchangeInfo)."""
        info = self._exchange_info(symbol)  # read only: no copy needed
        name = symbol.upper()
        for item in info.get("symbols", ()) if isinstance(info, dict) else ():
            if item.get("symbol") == name:
                return SymbolFilters.from_symbol_info(item)
        raise NotFoundError(f"unknown symbol {name}", details={"symbol": name})

    def round_price(self, symbol: str, price: Number, mode: Union[RoundingMode, str] = RoundingMode.NEAREST
                    ) -> Decimal:
        """``price`` snapped to the symbol's tickSize (``mode``: NEAREST, DOWN, UP)."""
        return self.symbol_filters(symbol).round_price(
            to_decimal("price", price, allow_float=self._allow_float), RoundingMode(mode))

    def round_quantity(self, symbol: str, quantity: Number, *, is_market: bool = False) -> Decimal:
        """``quantity`` rounded down to the symbol's stepSize."""
        return self.symbol_filters(symbol).round_quantity(
            to_decimal("quantity", quantity, allow_float=self._allow_float), is_market=is_market)

    def validate_order(self, symbol: str, type: str = "LIMIT", *, quantity: Optional[Number] = None,  # noqa: A002
                       price: Optional[Number] = None, stop_price: Optional[Number] = None,
                       reference_price: Optional[Number] = None) -> None:
        """Raise :class:`ValidationError` before sending an order Binance would reject
        for its price, quantity or notional (reference section 11)."""
        af = self._allow_float

        def dec(name: str, v: Optional[Number]) -> Optional[Decimal]:
            return None if v is None else to_decimal(name, v, allow_float=af)

        self.symbol_filters(symbol).validate(
            price=dec("price", price), quantity=dec("quantity", quantity), stop_price=dec("stop_price", stop_price),
            is_market=str(type).upper() == "MARKET", reference_price=dec("reference_price", reference_price))
