"""binance_conn: a Binance connector whose connections never silently die.

Public names (README): configuration (``Config``, ``ConfigBuilder``,
``new_config``), the error tree, event types and enums; the ``Connector`` and
``RestClient`` as they land.  Everything else is internal.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())

from ._io.dispatch import Subscription  # noqa: E402
from .config import Config, ConfigBuilder, Secret, new_config  # noqa: E402
from .connector import Connector, SubscriptionGroup  # noqa: E402
from .enums import (  # noqa: E402
    BookState,
    ConnectionState,
    ExecutionType,
    GapState,
    KlineInterval,
    OrderSide,
    OrderStatus,
    OrderType,
    OverflowPolicy,
    TimeInForce,
)
from .errors import (  # noqa: E402
    AmendRejectedError,
    APIError,
    AuthenticationError,
    BinanceError,
    CancelRejectedError,
    CancelReplaceError,
    ConnectionError,
    DuplicateOrderError,
    FilterFailureError,
    InsufficientBalanceError,
    InsufficientLiquidityError,
    InternalError,
    InvalidOrderError,
    IPBannedError,
    MarketClosedError,
    NotConnectedError,
    NotFoundError,
    OrderArchivedError,
    OrderRejectedError,
    ParameterError,
    ProxyError,
    RateLimitError,
    ServiceUnavailableError,
    SessionError,
    SubscriptionError,
    TimestampError,
    TLSError,
    TradingDisabledError,
    UnknownStatusError,
    UnsupportedOperationError,
    UnsupportedOrderError,
    ValidationError,
    WAFError,
    WouldMatchImmediatelyError,
    WouldTriggerImmediatelyError,
)
from .events import (  # noqa: E402
    AggTrade,
    BalanceUpdate,
    BookTicker,
    ConnectionEvent,
    DepthUpdate,
    EventStreamTerminated,
    ExternalLockUpdate,
    Fill,
    GapEvent,
    Kline,
    ListOrder,
    MiniTicker,
    OrderBook,
    OrderListUpdate,
    OrderUpdate,
    Ticker,
    Trade,
)
from .rest import RestClient  # noqa: E402

__all__ = [
    "__version__",
    "Connector",
    "RestClient",
    "Subscription",
    "SubscriptionGroup",
    # configuration
    "Config",
    "ConfigBuilder",
    "Secret",
    "new_config",
    # enums
    "GapState",
    "BookState",
    "ConnectionState",
    "OverflowPolicy",
    "OrderSide",
    "OrderType",
    "OrderStatus",
    "TimeInForce",
    "ExecutionType",
    "KlineInterval",
    # errors
    "BinanceError",
    "ValidationError",
    "ConnectionError",
    "NotConnectedError",
    "ProxyError",
    "TLSError",
    "InternalError",
    "RateLimitError",
    "IPBannedError",
    "AuthenticationError",
    "TimestampError",
    "NotFoundError",
    "OrderRejectedError",
    "UnknownStatusError",
    "APIError",
    # errors.md classes (issue 11)
    "OrderArchivedError",
    "InsufficientBalanceError",
    "FilterFailureError",
    "WouldTriggerImmediatelyError",
    "WouldMatchImmediatelyError",
    "DuplicateOrderError",
    "MarketClosedError",
    "UnsupportedOrderError",
    "InvalidOrderError",
    "TradingDisabledError",
    "InsufficientLiquidityError",
    "AmendRejectedError",
    "CancelRejectedError",
    "CancelReplaceError",
    "ParameterError",
    "UnsupportedOperationError",
    "ServiceUnavailableError",
    "SessionError",
    "SubscriptionError",
    "WAFError",
    # events
    "ConnectionEvent",
    "GapEvent",
    "OrderBook",
    "Ticker",
    "MiniTicker",
    "BookTicker",
    "Trade",
    "AggTrade",
    "Kline",
    "DepthUpdate",
    "OrderUpdate",
    "Fill",
    "BalanceUpdate",
    "OrderListUpdate",
    "ListOrder",
    "ExternalLockUpdate",
    "EventStreamTerminated",
]

# Market-stream events of web-socket-streams.md (streams branch).
from .events import AvgPrice, BlockTrade, ReferencePrice, RollingWindowTicker  # noqa: E402

__all__ += ["AvgPrice", "RollingWindowTicker", "ReferencePrice", "BlockTrade"]

from .events import (  # noqa: E402
    AssetIndex,
    CompositeIndex,
    ContinuousKline,
    ContractBracket,
    ContractInfo,
    IndexComponent,
    Liquidation,
    MarkPrice,
)

__all__ += ["MarkPrice", "Liquidation", "ContinuousKline", "CompositeIndex", "IndexComponent", "ContractInfo",
            "ContractBracket", "AssetIndex"]

# Futures user data (issue 14: listenKey stream events).
from .events import (  # noqa: E402
    AccountConfigUpdate,
    AlgoOrderUpdate,
    MarginCall,
    MarginCallPosition,
    PositionUpdate,
    TradeLite,
)

__all__ += ["PositionUpdate", "TradeLite", "MarginCall", "MarginCallPosition", "AccountConfigUpdate",
            "AlgoOrderUpdate"]

# One hub, many consumers (issue 15): imported on first use, so `python -m binance_conn.hub` runs the
# module once (runpy warns about a module the package imported already) and redis-py stays optional.
if TYPE_CHECKING:
    from .feed import RedisFeed
    from .hub import Hub


def __getattr__(name: str) -> Any:
    if name == "Hub":
        from .hub import Hub

        return Hub
    if name == "RedisFeed":
        from .feed import RedisFeed

        return RedisFeed
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ += ["Hub", "RedisFeed"]
