"""What every errors.md code and message must become, written by hand from the docs.

Independent of ``binance_conn/_core/error_codes.py`` on purpose: the tests compare the
library's table against this one (import as ``from _error_expectations import ...``).
"""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any, Dict, Optional, Tuple, Type

from binance_conn import errors as e

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures" / "spot_docs"
ERRORS_DOC: Dict[str, Any] = json.loads((FIXTURES / "errors.json").read_text(encoding="utf-8"))
EXAMPLES = json.loads((FIXTURES / "examples.json").read_text(encoding="utf-8"))

Expect = Tuple[Type[e.BinanceError], str]

_PARAM: Expect = (e.ParameterError, "bad_parameter")
_SESSION: Expect = (e.SessionError, "session_error")
_RATE: Expect = (e.RateLimitError, "rate_limited")
_AUTH: Expect = (e.AuthenticationError, "authentication")
_UNKNOWN: Expect = (e.UnknownStatusError, "unknown_status")
_SBE: Expect = (e.UnsupportedOperationError, "sbe_unsupported")

# Binance code -> (class, .code) for a message that does not decide (the code's own meaning).
CODE_EXPECT: Dict[int, Expect] = {
    -1000: _UNKNOWN,
    -1001: (e.ServiceUnavailableError, "service_unavailable"),
    -1002: _AUTH,
    -1003: _RATE,
    -1006: _UNKNOWN,
    -1007: _UNKNOWN,
    -1008: (e.ServiceUnavailableError, "server_busy"),
    -1010: (e.OrderRejectedError, "order_rejected"),
    -1013: (e.OrderRejectedError, "order_rejected"),
    -1014: (e.UnsupportedOrderError, "unsupported_order"),
    -1015: _RATE,
    -1016: (e.ServiceUnavailableError, "service_shutting_down"),
    -1020: (e.UnsupportedOperationError, "unsupported_operation"),
    -1021: (e.TimestampError, "timestamp"),
    -1022: _AUTH,
    -1033: (e.SessionError, "session_in_use"),
    -1034: _RATE,
    -1035: (e.SessionError, "logged_out"),
    -1112: (e.InsufficientLiquidityError, "insufficient_liquidity"),
    -1121: (e.NotFoundError, "not_found"),
    -1125: (e.NotFoundError, "listen_key_not_found"),
    -1127: (e.ParameterError, "time_range_too_large"),
    -1153: _SBE,
    -1155: _SBE,
    -1161: _SBE,
    -1181: _RATE,
    -1190: (e.SubscriptionError, "subscription_id_invalid"),
    -1191: (e.SubscriptionError, "too_many_subscriptions"),
    -2010: (e.OrderRejectedError, "order_rejected"),
    -2011: (e.CancelRejectedError, "cancel_rejected"),
    -2013: (e.NotFoundError, "not_found"),
    -2014: _AUTH,
    -2015: _AUTH,
    -2016: (e.NotFoundError, "no_trading_window"),
    -2021: (e.CancelReplaceError, "cancel_replace_partially_failed"),
    -2022: (e.CancelReplaceError, "cancel_replace_failed"),
    -2026: (e.OrderArchivedError, "order_archived"),
    -2035: (e.SubscriptionError, "subscription_active"),
    -2036: (e.SubscriptionError, "subscription_inactive"),
    -2038: (e.AmendRejectedError, "amend_rejected"),
    -2039: (e.ParameterError, "client_order_id_mismatch"),
    -2042: (e.SubscriptionError, "too_many_subscriptions"),
    -2043: (e.NotFoundError, "no_reference_price"),
}
for _code in (-1175, -1176, -1178, -1179, -1180, -1183, -1184, -1185, -1186, -1187):
    CODE_EXPECT[_code] = _SESSION
for _rec in ERRORS_DOC["codes"]:  # every other 11xx "request issue" is a bad parameter
    if -1199 <= _rec["code"] <= -1100 or -1299 <= _rec["code"] <= -1200:
        CODE_EXPECT.setdefault(_rec["code"], _PARAM)

GENERIC: Dict[int, str] = {}
"""Codes deliberately left as plain APIError, with the reason (none: every code has a class)."""

OVERLOADED = (-1010, -1013, -2010, -2011, -2038)

_UNSUP: Expect = (e.UnsupportedOrderError, "unsupported_order")
_LIQ: Expect = (e.InsufficientLiquidityError, "insufficient_liquidity")
_INVALID: Expect = (e.InvalidOrderError, "invalid_order")
_AMEND: Expect = (e.AmendRejectedError, "amend_not_supported")

# The "Messages for -1010, -2010, -2011, -2038" table: message -> what it means for a new order.
MESSAGE_EXPECT: Dict[str, Expect] = {
    "Unknown order sent.": (e.NotFoundError, "not_found"),
    "Duplicate order sent.": (e.DuplicateOrderError, "duplicate_order"),
    "Market is closed.": (e.MarketClosedError, "market_closed"),
    "Account has insufficient balance for requested action.": (e.InsufficientBalanceError, "insufficient_balance"),
    "Market orders are not supported for this symbol.": _UNSUP,
    "Iceberg orders are not supported for this symbol.": _UNSUP,
    "Stop loss orders are not supported for this symbol.": _UNSUP,
    "Stop loss limit orders are not supported for this symbol.": _UNSUP,
    "Take profit orders are not supported for this symbol.": _UNSUP,
    "Take profit limit orders are not supported for this symbol.": _UNSUP,
    "Order amend is not supported for this symbol.": _AMEND,
    "Price * QTY is zero or less.": _INVALID,
    "IcebergQty exceeds QTY.": _INVALID,
    "This action is disabled on this account.": (e.TradingDisabledError, "account_disabled"),
    "This account may not place or cancel orders.": (e.TradingDisabledError, "account_disabled"),
    "Unsupported order combination": _UNSUP,
    "Order would trigger immediately.": (e.WouldTriggerImmediatelyError, "would_trigger_immediately"),
    "Cancel order is invalid. Check origClOrdId and orderId.": (e.CancelRejectedError, "invalid_cancel"),
    "Order would immediately match and take.": (e.WouldMatchImmediatelyError, "would_match_immediately"),
    "The relationship of the prices for the orders is not correct.": _INVALID,
    "OCO orders are not supported for this symbol": _UNSUP,
    "Quote order qty market orders are not support for this symbol.": _UNSUP,
    "Trailing stop orders are not supported for this symbol.": _UNSUP,
    "Order cancel-replace is not supported for this symbol.": _UNSUP,
    "This symbol is not permitted for this account.": (e.TradingDisabledError, "symbol_not_permitted"),
    "This symbol is restricted for this account.": (e.TradingDisabledError, "symbol_not_permitted"),
    "Order was not canceled due to cancel restrictions.": (e.CancelRejectedError, "cancel_restricted"),
    "Rest API trading is not enabled.": (e.TradingDisabledError, "api_trading_disabled"),
    "WebSocket API trading is not enabled.": (e.TradingDisabledError, "api_trading_disabled"),
    "FIX API trading is not enabled.": (e.TradingDisabledError, "api_trading_disabled"),
    "Order book liquidity is less than `LOT_SIZE` filter minimum quantity.": _LIQ,
    "Order book liquidity is less than `MARKET_LOT_SIZE` filter minimum quantity.": _LIQ,
    "Order book liquidity is less than symbol minimum quantity.": _LIQ,
    "Order amend (quantity increase) is not supported.": _AMEND,
    "The requested action would change no state; rejecting": (e.OrderRejectedError, "no_change"),
    "Pegged orders are not supported for this symbol.": _UNSUP,
    "This order type may not use pegged price.": _UNSUP,
    "This price peg cannot be used with this order type.": _UNSUP,
    "Order book liquidity is too low for this pegged order.": _LIQ,
    "OPO orders are not supported for this symbol.": _UNSUP,
    "Order amend (pending OPO order) is not supported.": _AMEND,
}

_FILTER = re.compile(r"^Filter failure: ([A-Z_]+)$")
_PLAIN: Dict[str, Expect] = {k.replace("`", ""): v for k, v in MESSAGE_EXPECT.items()}  # as Binance sends them


def in_context(code: int, meaning: Expect) -> Expect:
    """What a message's meaning becomes under an overloaded code (errors.py docstring rules):
    -2010/-2038 stay OrderRejectedError (their class before issue 11), -2011 stays a cancel
    rejection unless the order is unknown; the code's own class carries a generic meaning."""
    cls, slug = meaning
    if code == -2011:
        return meaning if cls in (e.CancelRejectedError, e.NotFoundError) else (e.CancelRejectedError, slug)
    if code in (-2010, -2038):
        if issubclass(cls, e.OrderRejectedError) and cls is not e.OrderRejectedError:
            return meaning
        return (CODE_EXPECT[code][0], slug)
    return meaning


def expect(code: int, message: str) -> Expect:
    """(class, .code) for an HTTP 400 answer ``{"code": code, "msg": message}``."""
    if code == -1003 and "banned until" in message:
        return (e.IPBannedError, "ip_banned")
    if code not in CODE_EXPECT:
        return (e.APIError, "api_error")
    if code in OVERLOADED:
        m = _FILTER.match(message)
        if m:
            return in_context(code, (e.FilterFailureError, "filter_failure"))
        meaning = MESSAGE_EXPECT.get(message) or _PLAIN.get(message)
        if meaning is not None:
            return in_context(code, meaning)
    return CODE_EXPECT[code]


def expect_status(status: Optional[int], code: Optional[int], message: str) -> Expect:
    """As :func:`expect`, with the HTTP / WebSocket API status deciding first where it does."""
    if status == 418:
        return (e.IPBannedError, "ip_banned")
    if status == 429:
        return _RATE
    if status is not None and status >= 500:
        return _UNKNOWN
    if status == 403:
        return (e.WAFError, "waf_blocked")
    if code is None:
        return _AUTH if status == 401 else (e.APIError, "api_error")
    return expect(code, message)


def sample(message: str) -> str:
    """A documented message with its ``%s``/``%d``/``{param}`` placeholders filled in."""
    return re.sub(r"%s|%d|\{param\}", "7", message).replace("`", "")
