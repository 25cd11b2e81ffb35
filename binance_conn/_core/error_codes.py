"""Every Binance spot error code and matching-engine message, as declarative tables (sans-I/O).

Source: ``errors.md`` of the official spot docs.  A row names the error *class* by its
name in :mod:`binance_conn.errors` (this module imports nothing from it, so the table
stays a plain value; ``errors.py`` resolves the names once at import and fails loudly on
a typo) and the normalized ``.code`` string, or ``None`` for the class's default.

Five codes are *overloaded*: their meaning is in the message (``-1010``, ``-1013``,
``-2010``, ``-2011``, ``-2038``).  For them :func:`match_message` looks the message up
(exact text after a cheap normalization, then a few patterns compiled once); the
:data:`OVERLOADED` row says which classes that code may become and what it falls back to.
"""

from __future__ import annotations

import re
from typing import Dict, NamedTuple, Optional, Pattern, Tuple

__all__ = [
    "CodeSpec",
    "MessageSpec",
    "Overload",
    "CODES",
    "BY_CODE",
    "MESSAGES",
    "OVERLOADED",
    "normalize_message",
    "match_message",
    "filter_name",
    "FUTURES_CODES",
    "FUTURES_BY_CODE",
    "FUTURES_FILTERS",
    "codes_for",
]


class CodeSpec(NamedTuple):
    code: int
    name: str
    """Binance's symbolic name (``"ILLEGAL_CHARS"``), as errors.md spells it."""
    kind: str
    """Class name in ``binance_conn.errors``."""
    slug: Optional[str] = None
    """Normalized ``.code``; ``None``: the class's ``default_code``."""


class MessageSpec(NamedTuple):
    text: str
    """The message as errors.md documents it."""
    kind: str
    slug: Optional[str] = None


class Overload(NamedTuple):
    allowed: Tuple[str, ...]
    """A matched message's class is used when it is (a subclass of) one of these."""
    fallback: str
    """Class for an unmatched message, or for a match outside ``allowed`` (keeping its slug)."""
    slug: Optional[str] = None


_P = "ParameterError"
_S = "SessionError"

CODES: Tuple[CodeSpec, ...] = (
    # 10xx - general server or network issues
    CodeSpec(-1000, "UNKNOWN", "UnknownStatusError"),
    CodeSpec(-1001, "DISCONNECTED", "ServiceUnavailableError", "service_unavailable"),
    CodeSpec(-1002, "UNAUTHORIZED", "AuthenticationError"),
    CodeSpec(-1003, "TOO_MANY_REQUESTS", "RateLimitError"),
    CodeSpec(-1006, "UNEXPECTED_RESP", "UnknownStatusError"),
    CodeSpec(-1007, "TIMEOUT", "UnknownStatusError"),
    CodeSpec(-1008, "SERVER_BUSY", "ServiceUnavailableError", "server_busy"),
    CodeSpec(-1010, "ERROR_MSG_RECEIVED", "OrderRejectedError"),
    CodeSpec(-1013, "INVALID_MESSAGE", "OrderRejectedError"),
    CodeSpec(-1014, "UNKNOWN_ORDER_COMPOSITION", "UnsupportedOrderError"),
    CodeSpec(-1015, "TOO_MANY_ORDERS", "RateLimitError"),
    CodeSpec(-1016, "SERVICE_SHUTTING_DOWN", "ServiceUnavailableError", "service_shutting_down"),
    CodeSpec(-1020, "UNSUPPORTED_OPERATION", "UnsupportedOperationError"),
    CodeSpec(-1021, "INVALID_TIMESTAMP", "TimestampError"),
    CodeSpec(-1022, "INVALID_SIGNATURE", "AuthenticationError"),
    CodeSpec(-1033, "COMP_ID_IN_USE", _S, "session_in_use"),
    CodeSpec(-1034, "TOO_MANY_CONNECTIONS", "RateLimitError"),
    CodeSpec(-1035, "LOGGED_OUT", _S, "logged_out"),
    # 11xx - request issues
    CodeSpec(-1100, "ILLEGAL_CHARS", _P),
    CodeSpec(-1101, "TOO_MANY_PARAMETERS", _P),
    CodeSpec(-1102, "MANDATORY_PARAM_EMPTY_OR_MALFORMED", _P),
    CodeSpec(-1103, "UNKNOWN_PARAM", _P),
    CodeSpec(-1104, "UNREAD_PARAMETERS", _P),
    CodeSpec(-1105, "PARAM_EMPTY", _P),
    CodeSpec(-1106, "PARAM_NOT_REQUIRED", _P),
    CodeSpec(-1108, "PARAM_OVERFLOW", _P),
    CodeSpec(-1111, "BAD_PRECISION", _P),
    CodeSpec(-1112, "NO_DEPTH", "InsufficientLiquidityError"),
    CodeSpec(-1114, "TIF_NOT_REQUIRED", _P),
    CodeSpec(-1115, "INVALID_TIF", _P),
    CodeSpec(-1116, "INVALID_ORDER_TYPE", _P),
    CodeSpec(-1117, "INVALID_SIDE", _P),
    CodeSpec(-1118, "EMPTY_NEW_CL_ORD_ID", _P),
    CodeSpec(-1119, "EMPTY_ORG_CL_ORD_ID", _P),
    CodeSpec(-1120, "BAD_INTERVAL", _P),
    CodeSpec(-1121, "BAD_SYMBOL", "NotFoundError"),
    CodeSpec(-1122, "INVALID_SYMBOLSTATUS", _P),
    CodeSpec(-1125, "INVALID_LISTEN_KEY", "NotFoundError", "listen_key_not_found"),
    CodeSpec(-1127, "MORE_THAN_XX_HOURS", _P, "time_range_too_large"),
    CodeSpec(-1128, "OPTIONAL_PARAMS_BAD_COMBO", _P),
    CodeSpec(-1130, "INVALID_PARAMETER", _P),
    CodeSpec(-1134, "BAD_STRATEGY_TYPE", _P),
    CodeSpec(-1135, "INVALID_JSON", _P),
    CodeSpec(-1139, "INVALID_TICKER_TYPE", _P),
    CodeSpec(-1145, "INVALID_CANCEL_RESTRICTIONS", _P),
    CodeSpec(-1151, "DUPLICATE_SYMBOLS", _P),
    CodeSpec(-1152, "INVALID_SBE_HEADER", _P),
    CodeSpec(-1153, "UNSUPPORTED_SCHEMA_ID", "UnsupportedOperationError", "sbe_unsupported"),
    CodeSpec(-1155, "SBE_DISABLED", "UnsupportedOperationError", "sbe_unsupported"),
    CodeSpec(-1158, "OCO_ORDER_TYPE_REJECTED", _P),
    CodeSpec(-1160, "OCO_ICEBERGQTY_TIMEINFORCE", _P),
    CodeSpec(-1161, "DEPRECATED_SCHEMA", "UnsupportedOperationError", "sbe_unsupported"),
    CodeSpec(-1165, "BUY_OCO_LIMIT_MUST_BE_BELOW", _P),
    CodeSpec(-1166, "SELL_OCO_LIMIT_MUST_BE_ABOVE", _P),
    CodeSpec(-1168, "BOTH_OCO_ORDERS_CANNOT_BE_LIMIT", _P),
    # FIX-only codes: a malformed message is a bad parameter, session rules are SessionError
    CodeSpec(-1169, "INVALID_TAG_NUMBER", _P),
    CodeSpec(-1170, "TAG_NOT_DEFINED_IN_MESSAGE", _P),
    CodeSpec(-1171, "TAG_APPEARS_MORE_THAN_ONCE", _P),
    CodeSpec(-1172, "TAG_OUT_OF_ORDER", _P),
    CodeSpec(-1173, "GROUP_FIELDS_OUT_OF_ORDER", _P),
    CodeSpec(-1174, "INVALID_COMPONENT", _P),
    CodeSpec(-1175, "RESET_SEQ_NUM_SUPPORT", _S),
    CodeSpec(-1176, "ALREADY_LOGGED_IN", _S),
    CodeSpec(-1177, "GARBLED_MESSAGE", _P),
    CodeSpec(-1178, "BAD_SENDER_COMPID", _S),
    CodeSpec(-1179, "BAD_SEQ_NUM", _S),
    CodeSpec(-1180, "EXPECTED_LOGON", _S),
    CodeSpec(-1181, "TOO_MANY_MESSAGES", "RateLimitError"),
    CodeSpec(-1182, "PARAMS_BAD_COMBO", _P),
    CodeSpec(-1183, "NOT_ALLOWED_IN_DROP_COPY_SESSIONS", _S),
    CodeSpec(-1184, "DROP_COPY_SESSION_NOT_ALLOWED", _S),
    CodeSpec(-1185, "DROP_COPY_SESSION_REQUIRED", _S),
    CodeSpec(-1186, "NOT_ALLOWED_IN_ORDER_ENTRY_SESSIONS", _S),
    CodeSpec(-1187, "NOT_ALLOWED_IN_MARKET_DATA_SESSIONS", _S),
    CodeSpec(-1188, "INCORRECT_NUM_IN_GROUP_COUNT", _P),
    CodeSpec(-1189, "DUPLICATE_ENTRIES_IN_A_GROUP", _P),
    CodeSpec(-1190, "INVALID_REQUEST_ID", "SubscriptionError", "subscription_id_invalid"),
    CodeSpec(-1191, "TOO_MANY_SUBSCRIPTIONS", "SubscriptionError", "too_many_subscriptions"),
    CodeSpec(-1194, "INVALID_TIME_UNIT", _P),
    CodeSpec(-1196, "BUY_OCO_STOP_LOSS_MUST_BE_ABOVE", _P),
    CodeSpec(-1197, "SELL_OCO_STOP_LOSS_MUST_BE_BELOW", _P),
    CodeSpec(-1198, "BUY_OCO_TAKE_PROFIT_MUST_BE_BELOW", _P),
    CodeSpec(-1199, "SELL_OCO_TAKE_PROFIT_MUST_BE_ABOVE", _P),
    CodeSpec(-1210, "INVALID_PEG_PRICE_TYPE", _P),
    CodeSpec(-1211, "INVALID_PEG_OFFSET_TYPE", _P),
    CodeSpec(-1220, "SYMBOL_DOES_NOT_MATCH_STATUS", _P),
    CodeSpec(-1221, "INVALID_SBE_MESSAGE_FIELD", _P),
    CodeSpec(-1222, "OPO_WORKING_MUST_BE_BUY", _P),
    CodeSpec(-1223, "OPO_PENDING_MUST_BE_SELL", _P),
    CodeSpec(-1224, "WORKING_PARAM_REQUIRED", _P),
    CodeSpec(-1225, "PENDING_PARAM_NOT_REQUIRED", _P),
    # 20xx - order, cancel, amend, key and subscription problems
    CodeSpec(-2010, "NEW_ORDER_REJECTED", "OrderRejectedError"),
    CodeSpec(-2011, "CANCEL_REJECTED", "CancelRejectedError"),
    CodeSpec(-2013, "NO_SUCH_ORDER", "NotFoundError"),
    CodeSpec(-2014, "BAD_API_KEY_FMT", "AuthenticationError"),
    CodeSpec(-2015, "REJECTED_MBX_KEY", "AuthenticationError"),
    CodeSpec(-2016, "NO_TRADING_WINDOW", "NotFoundError", "no_trading_window"),
    CodeSpec(-2021, "CANCEL_REPLACE_PARTIALLY_FAILED", "CancelReplaceError", "cancel_replace_partially_failed"),
    CodeSpec(-2022, "CANCEL_REPLACE_FAILED", "CancelReplaceError", "cancel_replace_failed"),
    CodeSpec(-2026, "ORDER_ARCHIVED", "OrderArchivedError"),
    CodeSpec(-2035, "SUBSCRIPTION_ACTIVE", "SubscriptionError", "subscription_active"),
    CodeSpec(-2036, "SUBSCRIPTION_INACTIVE", "SubscriptionError", "subscription_inactive"),
    CodeSpec(-2038, "ORDER_AMEND_REJECTED", "AmendRejectedError"),
    CodeSpec(-2039, "CLIENT_ORDER_ID_INVALID", _P, "client_order_id_mismatch"),
    CodeSpec(-2042, "MAXIMUM_SUBSCRIPTION_IDS", "SubscriptionError", "too_many_subscriptions"),
    CodeSpec(-2043, "NO_REFERENCE_PRICE", "NotFoundError", "no_reference_price"),
)

BY_CODE: Dict[int, CodeSpec] = {spec.code: spec for spec in CODES}

_U = "UnsupportedOrderError"
_T = "TradingDisabledError"
_L = "InsufficientLiquidityError"
_A = "AmendRejectedError"

# errors.md "Messages for -1010 ERROR_MSG_RECEIVED, -2010 NEW_ORDER_REJECTED, -2011 CANCEL_REJECTED,
# and -2038 ORDER_AMEND_REJECTED" (-1013 points to the same list), in the docs' order.
MESSAGES: Tuple[MessageSpec, ...] = (
    MessageSpec("Unknown order sent.", "NotFoundError"),
    MessageSpec("Duplicate order sent.", "DuplicateOrderError"),
    MessageSpec("Market is closed.", "MarketClosedError"),
    MessageSpec("Account has insufficient balance for requested action.", "InsufficientBalanceError"),
    MessageSpec("Market orders are not supported for this symbol.", _U),
    MessageSpec("Iceberg orders are not supported for this symbol.", _U),
    MessageSpec("Stop loss orders are not supported for this symbol.", _U),
    MessageSpec("Stop loss limit orders are not supported for this symbol.", _U),
    MessageSpec("Take profit orders are not supported for this symbol.", _U),
    MessageSpec("Take profit limit orders are not supported for this symbol.", _U),
    MessageSpec("Order amend is not supported for this symbol.", _A, "amend_not_supported"),
    MessageSpec("Price * QTY is zero or less.", "InvalidOrderError"),
    MessageSpec("IcebergQty exceeds QTY.", "InvalidOrderError"),
    MessageSpec("This action is disabled on this account.", _T, "account_disabled"),
    MessageSpec("This account may not place or cancel orders.", _T, "account_disabled"),
    MessageSpec("Unsupported order combination", _U),
    MessageSpec("Order would trigger immediately.", "WouldTriggerImmediatelyError"),
    MessageSpec("Cancel order is invalid. Check origClOrdId and orderId.", "CancelRejectedError", "invalid_cancel"),
    MessageSpec("Order would immediately match and take.", "WouldMatchImmediatelyError"),
    MessageSpec("The relationship of the prices for the orders is not correct.", "InvalidOrderError"),
    MessageSpec("OCO orders are not supported for this symbol", _U),
    MessageSpec("Quote order qty market orders are not support for this symbol.", _U),
    MessageSpec("Trailing stop orders are not supported for this symbol.", _U),
    MessageSpec("Order cancel-replace is not supported for this symbol.", _U),
    MessageSpec("This symbol is not permitted for this account.", _T, "symbol_not_permitted"),
    MessageSpec("This symbol is restricted for this account.", _T, "symbol_not_permitted"),
    MessageSpec("Order was not canceled due to cancel restrictions.", "CancelRejectedError", "cancel_restricted"),
    MessageSpec("Rest API trading is not enabled.", _T, "api_trading_disabled"),
    MessageSpec("WebSocket API trading is not enabled.", _T, "api_trading_disabled"),
    MessageSpec("FIX API trading is not enabled.", _T, "api_trading_disabled"),
    MessageSpec("Order book liquidity is less than `LOT_SIZE` filter minimum quantity.", _L),
    MessageSpec("Order book liquidity is less than `MARKET_LOT_SIZE` filter minimum quantity.", _L),
    MessageSpec("Order book liquidity is less than symbol minimum quantity.", _L),
    MessageSpec("Order amend (quantity increase) is not supported.", _A, "amend_not_supported"),
    MessageSpec("The requested action would change no state; rejecting", "OrderRejectedError", "no_change"),
    MessageSpec("Pegged orders are not supported for this symbol.", _U),
    MessageSpec("This order type may not use pegged price.", _U),
    MessageSpec("This price peg cannot be used with this order type.", _U),
    MessageSpec("Order book liquidity is too low for this pegged order.", _L),
    MessageSpec("OPO orders are not supported for this symbol.", _U),
    MessageSpec("Order amend (pending OPO order) is not supported.", _A, "amend_not_supported"),
)

OVERLOADED: Dict[int, Overload] = {
    # -1010 / -1013: never had a narrower class; any matched class goes.
    -1010: Overload(("APIError",), "OrderRejectedError", "order_rejected"),
    -1013: Overload(("APIError",), "OrderRejectedError", "order_rejected"),
    # -2010 / -2038 have always been OrderRejectedError: stay inside it ("Unknown order sent."
    # under -2038 is an AmendRejectedError with .code "not_found").
    -2010: Overload(("OrderRejectedError",), "OrderRejectedError", "order_rejected"),
    -2038: Overload(("OrderRejectedError",), "AmendRejectedError", "amend_rejected"),
    # -2011: "Unknown order sent." has always been NotFoundError; the rest is a cancel rejection.
    -2011: Overload(("CancelRejectedError", "NotFoundError"), "CancelRejectedError", "cancel_rejected"),
}


def normalize_message(message: str) -> str:
    """Case, surrounding blanks, backticks and a final period do not count."""
    return message.replace("`", "").strip().rstrip(".").strip().lower()


_EXACT: Dict[str, MessageSpec] = {normalize_message(m.text): m for m in MESSAGES}

# Tried in order when the exact text is unknown (Binance rewords now and then).
_PATTERNS: Tuple[Tuple[Pattern[str], MessageSpec], ...] = tuple(
    (re.compile(pattern), spec)
    for pattern, spec in (
        (r"unknown order", MessageSpec("", "NotFoundError")),
        (r"insufficient balance", MessageSpec("", "InsufficientBalanceError")),
        (r"duplicate order", MessageSpec("", "DuplicateOrderError")),
        (r"market is closed", MessageSpec("", "MarketClosedError")),
        (r"would trigger immediately", MessageSpec("", "WouldTriggerImmediatelyError")),
        (r"immediately match", MessageSpec("", "WouldMatchImmediatelyError")),
        (r"^order amend\b.*not supported", MessageSpec("", _A, "amend_not_supported")),
        (r"not supported for this symbol|not support for this symbol", MessageSpec("", _U)),
        (r"^order book liquidity is", MessageSpec("", _L)),
        (r"trading is not enabled", MessageSpec("", _T, "api_trading_disabled")),
        (r"cancel restrictions", MessageSpec("", "CancelRejectedError", "cancel_restricted")),
    )
)

_FILTER = re.compile(r"^\s*filter failure:\s*([a-z0-9_]+)", re.IGNORECASE)


def filter_name(message: str) -> Optional[str]:
    """``"PRICE_FILTER"`` for ``"Filter failure: PRICE_FILTER"``; ``None`` for other messages."""
    match = _FILTER.match(message)
    return match.group(1).upper() if match else None


def match_message(message: str) -> Optional[MessageSpec]:
    """The documented message row for ``message`` (filter failures excluded), or ``None``."""
    if not message:
        return None
    key = normalize_message(message)
    spec = _EXACT.get(key)
    if spec is not None:
        return spec
    for pattern, row in _PATTERNS:
        if pattern.search(key):
            return row
    return None


# --------------------------------------------------------------------------- futures (USD-M and COIN-M)
# binance-futures-reference.md section 9 (fERR).  Codes the futures docs share with spot keep the spot
# row; a futures row below wins over the spot one for a futures client (error_from_response(product=)).
# Colliding codes that mean something else on futures: -2021, -2022 (spot: cancel-replace failures)
# and -2026 (spot: order archived).
_F = "FilterFailureError"
_R = "OrderRejectedError"

FUTURES_CODES: Tuple[CodeSpec, ...] = (
    CodeSpec(-1008, "SERVER_BUSY", "ServiceUnavailableError", "server_busy"),
    CodeSpec(-1023, "START_TIME_GREATER_THAN_END_TIME", _P),
    CodeSpec(-1099, "NOT_FOUND", "AuthenticationError", "not_found_or_unauthorized"),
    CodeSpec(-1108, "BAD_ASSET", _P),
    CodeSpec(-1109, "BAD_ACCOUNT", _P),
    CodeSpec(-1110, "BAD_INSTRUMENT_TYPE", _P),
    CodeSpec(-1136, "INVALID_NEW_ORDER_RESP_TYPE", _P),
    CodeSpec(-2018, "BALANCE_NOT_SUFFICIENT", "InsufficientBalanceError"),
    CodeSpec(-2019, "MARGIN_NOT_SUFFICIEN", "InsufficientBalanceError", "margin_insufficient"),
    CodeSpec(-2020, "UNABLE_TO_FILL", _L, "unable_to_fill"),
    CodeSpec(-2021, "ORDER_WOULD_IMMEDIATELY_TRIGGER", "WouldTriggerImmediatelyError"),
    CodeSpec(-2022, "REDUCE_ONLY_REJECT", _R, "reduce_only_rejected"),
    CodeSpec(-2023, "USER_IN_LIQUIDATION", _T, "user_in_liquidation"),
    CodeSpec(-2024, "POSITION_NOT_SUFFICIENT", "InsufficientBalanceError", "position_insufficient"),
    CodeSpec(-2025, "MAX_OPEN_ORDER_EXCEEDED", _R, "max_open_orders"),
    CodeSpec(-2026, "REDUCE_ONLY_ORDER_TYPE_NOT_SUPPORTED", _U, "reduce_only_type_unsupported"),
    CodeSpec(-2027, "MAX_LEVERAGE_RATIO", _R, "leverage_ratio"),
    CodeSpec(-2028, "MIN_LEVERAGE_RATIO", _R, "leverage_ratio"),
    CodeSpec(-4000, "INVALID_ORDER_STATUS", _R),
    CodeSpec(-4001, "PRICE_LESS_THAN_ZERO", _F),
    CodeSpec(-4002, "PRICE_GREATER_THAN_MAX_PRICE", _F),
    CodeSpec(-4003, "QTY_LESS_THAN_ZERO", _F),
    CodeSpec(-4004, "QTY_LESS_THAN_MIN_QTY", _F),
    CodeSpec(-4005, "QTY_GREATER_THAN_MAX_QTY", _F),
    CodeSpec(-4006, "STOP_PRICE_LESS_THAN_ZERO", _F),
    CodeSpec(-4007, "STOP_PRICE_GREATER_THAN_MAX_PRICE", _F),
    CodeSpec(-4013, "PRICE_LESS_THAN_MIN_PRICE", _F),
    CodeSpec(-4014, "PRICE_NOT_INCREASED_BY_TICK_SIZE", _F),
    CodeSpec(-4015, "INVALID_CL_ORD_ID_LEN", _P),
    CodeSpec(-4016, "PRICE_HIGHTER_THAN_MULTIPLIER_UP", _F),
    CodeSpec(-4023, "QTY_NOT_INCREASED_BY_STEP_SIZE", _F),
    CodeSpec(-4024, "PRICE_LOWER_THAN_MULTIPLIER_DOWN", _F),
    CodeSpec(-4028, "INVALID_LEVERAGE", _P, "invalid_leverage"),
    CodeSpec(-4031, "INVALID_WORKING_TYPE", _P),
    CodeSpec(-4046, "NO_NEED_TO_CHANGE_MARGIN_TYPE", _R, "no_change"),
    CodeSpec(-4047, "THERE_EXISTS_OPEN_ORDERS", _R, "open_orders_exist"),
    CodeSpec(-4048, "THERE_EXISTS_QUANTITY", _R, "position_exists"),
    CodeSpec(-4059, "NO_NEED_TO_CHANGE_POSITION_SIDE", _R, "no_change"),
    CodeSpec(-4060, "INVALID_POSITION_SIDE", _P),
    CodeSpec(-4061, "POSITION_SIDE_NOT_MATCH", _P, "position_side_mismatch"),
    CodeSpec(-4062, "REDUCE_ONLY_CONFLICT", _P),
    CodeSpec(-4067, "POSITION_SIDE_CHANGE_EXISTS_OPEN_ORDERS", _R, "open_orders_exist"),
    CodeSpec(-4068, "POSITION_SIDE_CHANGE_EXISTS_QUANTITY", _R, "position_exists"),
    CodeSpec(-4082, "INVALID_BATCH_PLACE_ORDER_SIZE", _P),
    CodeSpec(-4083, "PLACE_BATCH_ORDERS_FAIL", _R),
    CodeSpec(-4087, "REDUCE_ONLY_ORDER_PERMISSION", _T, "reduce_only_permission"),
    CodeSpec(-4088, "NO_PLACE_ORDER_PERMISSION", _T, "account_disabled"),
    CodeSpec(-4116, "DUPLICATED_CLIENT_ORDER_ID", "DuplicateOrderError"),
    CodeSpec(-4118, "REDUCE_ONLY_MARGIN_CHECK_FAILED", _R, "reduce_only_rejected"),
    CodeSpec(-4120, "STOP_ORDER_SWITCH_ALGO", _U, "use_algo_order"),
    CodeSpec(-4131, "MARKET_ORDER_REJECT", _F),
    CodeSpec(-4135, "INVALID_ACTIVATION_PRICE", _P),
    CodeSpec(-4137, "QUANTITY_EXISTS_WITH_CLOSE_POSITION", _P),
    CodeSpec(-4138, "REDUCE_ONLY_MUST_BE_TRUE", _P),
    CodeSpec(-4140, "INVALID_OPENING_POSITION_STATUS", _T, "symbol_not_open"),
    CodeSpec(-4141, "SYMBOL_ALREADY_CLOSED", "MarketClosedError"),
    CodeSpec(-4142, "STRATEGY_INVALID_TRIGGER_PRICE", "WouldTriggerImmediatelyError"),
    CodeSpec(-4164, "MIN_NOTIONAL", _F),
    CodeSpec(-4165, "INVALID_TIME_INTERVAL", _P, "time_range_too_large"),
    CodeSpec(-4183, "PRICE_HIGHTER_THAN_STOP_MULTIPLIER_UP", _F),
    CodeSpec(-4184, "PRICE_LOWER_THAN_STOP_MULTIPLIER_DOWN", _F),
    CodeSpec(-5021, "FOK_ORDER_REJECT", _R, "fok_rejected"),
    CodeSpec(-5022, "GTX_ORDER_REJECT", "WouldMatchImmediatelyError"),
    CodeSpec(-5024, "MOVE_ORDER_NOT_ALLOWED_SYMBOL_REASON", _A),
    CodeSpec(-5025, "LIMIT_ORDER_ONLY", _A),
    CodeSpec(-5026, "EXCEED_MAXIMUM_MODIFY_ORDER_LIMIT", _A),
    CodeSpec(-5027, "SAME_ORDER", _A, "no_change"),
    CodeSpec(-5028, "ME_RECVWINDOW_REJECT", "TimestampError"),
    CodeSpec(-5029, "MODIFICATION_MIN_NOTIONAL", _A),
    CodeSpec(-5037, "INVALID_PRICE_MATCH", _P),
    CodeSpec(-5038, "UNSUPPORTED_ORDER_TYPE_PRICE_MATCH", _P),
    CodeSpec(-5039, "INVALID_SELF_TRADE_PREVENTION_MODE", _P),
    CodeSpec(-5040, "FUTURE_GOOD_TILL_DATE", _P),
    CodeSpec(-5041, "BBO_ORDER_REJECT", _L),
    CodeSpec(-5043, "PENDING_MODIFICATION_EXISTS", _A, "pending_modification"),
)

FUTURES_FILTERS: Dict[int, str] = {
    -4001: "PRICE_FILTER", -4002: "PRICE_FILTER", -4013: "PRICE_FILTER", -4014: "PRICE_FILTER",
    -4006: "PRICE_FILTER", -4007: "PRICE_FILTER", -4003: "LOT_SIZE", -4004: "LOT_SIZE", -4005: "LOT_SIZE",
    -4023: "LOT_SIZE", -4016: "PERCENT_PRICE", -4024: "PERCENT_PRICE", -4131: "PERCENT_PRICE",
    -4183: "PERCENT_PRICE", -4184: "PERCENT_PRICE", -4164: "MIN_NOTIONAL",
}
"""The exchangeInfo filter a futures filter code reports (``FilterFailureError.filter``)."""

FUTURES_BY_CODE: Dict[int, CodeSpec] = {**BY_CODE, **{spec.code: spec for spec in FUTURES_CODES}}
"""The futures view: spot rows, overridden by the futures ones."""


def codes_for(product: str) -> Dict[int, CodeSpec]:
    """The code table of ``"spot"`` (:data:`BY_CODE`) or a futures product (:data:`FUTURES_BY_CODE`)."""
    return BY_CODE if product in ("spot", "", None) else FUTURES_BY_CODE
