"""Pure helpers of the REST client: response shaping and order ids.

Kept out of ``rest.py`` so that file stays about I/O.  Nothing here touches
the network, a clock or a lock.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any, FrozenSet

from .. import errors as _errors
from ..errors import ValidationError

__all__ = [
    "decimal_or_text",
    "DECIMAL_KEYS",
    "decimalize",
    "decimalize_depth",
    "FILTER_DECIMAL_KEYS",
    "decimalize_filters",
    "new_client_order_id",
    "check_client_order_id",
]

DECIMAL_KEYS: FrozenSet[str] = frozenset(
    {
        # orders (section 7)
        "price", "origQty", "executedQty", "cummulativeQuoteQty", "origQuoteOrderQty", "stopPrice",
        "icebergQty", "quoteOrderQty", "preventedQuantity", "peggedPrice",
        # fills / trades
        "qty", "quoteQty", "commission",
        # balances and account
        "free", "locked", "maker", "taker", "buyer", "seller",
        # tickers
        "lastPrice", "openPrice", "highPrice", "lowPrice", "volume", "quoteVolume", "priceChange",
        "priceChangePercent", "weightedAvgPrice", "prevClosePrice", "lastQty", "bidPrice", "bidQty",
        "askPrice", "askQty",
        # account endpoints: commission discount, prevented matches (STP), order amendments
        "discount", "makerPreventedQuantity", "takerPreventedQuantity", "newQty",
        # trading: amend keepPriority's amendedOrder
        "preventedQty", "cumulativeQuoteQty",
    }
)
"""Keys whose string values are prices, quantities or amounts (reference section 11)."""

_CLIENT_ID = re.compile(r"^[a-zA-Z0-9\-_]{1,36}$")


def decimal_or_text(value: Any) -> Any:
    """A decimal string as ``Decimal``; anything else (other strings included) unchanged."""
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return value
    return value


def decimalize(obj: Any) -> Any:
    """Turn the string prices/quantities of a parsed response into ``Decimal``, in place.

    Dicts and lists are walked; only values under :data:`DECIMAL_KEYS` change, and
    a value that is not a decimal string is left as it is.  Returns ``obj``.
    """
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(value, str):
                if key in DECIMAL_KEYS:
                    obj[key] = decimal_or_text(value)
            elif isinstance(value, (dict, list)):
                decimalize(value)  # also under a decimal key: "discount" is both a key and a block
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)):
                decimalize(item)
    return obj


FILTER_DECIMAL_KEYS: FrozenSet[str] = frozenset(
    {
        # filters.md: the string-valued bounds of symbol, exchange and asset filters
        "minPrice", "maxPrice", "tickSize", "minQty", "maxQty", "stepSize", "minNotional", "maxNotional",
        "multiplierUp", "multiplierDown", "bidMultiplierUp", "bidMultiplierDown", "askMultiplierUp",
        "askMultiplierDown", "maxPosition", "limit",
    }
)
"""Keys of filter objects (filters.md) whose string values are prices, quantities or amounts."""


def decimalize_filters(obj: Any) -> Any:
    """The string bounds of filter objects (``{"filterType": ...}``) -> Decimals, in place.

    Walks dicts and lists; only dicts carrying ``filterType`` are touched, so a
    numeric ``limit`` elsewhere (rate limits) is left alone.  Returns ``obj``.
    """
    if isinstance(obj, dict):
        is_filter = "filterType" in obj
        for key, value in obj.items():
            if isinstance(value, str):
                if is_filter and key in FILTER_DECIMAL_KEYS:
                    obj[key] = decimal_or_text(value)
            elif isinstance(value, (dict, list)):
                decimalize_filters(value)
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)):
                decimalize_filters(item)
    return obj


def decimalize_depth(book: Any) -> Any:
    """``bids``/``asks`` levels ``["4.00000000", "431.00000000"]`` -> Decimals, in place."""
    if isinstance(book, dict):
        for side in ("bids", "asks"):
            levels = book.get(side)
            if isinstance(levels, list):
                book[side] = [[decimal_or_text(v) for v in level] for level in levels]
    return book


def new_client_order_id() -> str:
    """A fresh id matching ``^[a-zA-Z0-9-_]{1,36}$`` (35 chars, random)."""
    return "bc-" + uuid.uuid4().hex


def check_client_order_id(value: Any, field: str = "client_order_id") -> str:
    """Validate a caller-supplied client order id (reference section 7)."""
    if not isinstance(value, str) or not _CLIENT_ID.match(value):
        raise ValidationError(field, value, "must match ^[a-zA-Z0-9-_]{1,36}$")
    return value


# errors.CancelReplaceError decimalizes its ``data`` block with this (errors.py cannot import us).
_errors._set_decimalizer(decimalize)
