"""String-based enumerations of the public API.

Every enum here is a ``str`` subclass, so ``ev.side == "BUY"`` holds and an enum
member serialises as its value.  Binance adds values over time (new order types,
statuses, execution types); :func:`coerce` turns a wire value into the matching
member when there is one and passes anything else through as a plain ``str``,
so a value added by Binance tomorrow never raises here.
"""

from __future__ import annotations

from enum import Enum
from typing import Dict, Type, TypeVar, Union

__all__ = [
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
    "coerce",
]


class _StrEnum(str, Enum):
    """``str`` mixin enum whose ``str()``/``format()`` give the bare value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)


class ConnectionState(_StrEnum):
    """Lifecycle state of a :class:`~binance_conn.Connector` or one of its sessions."""

    CONNECTING = "CONNECTING"
    CONNECTED = "CONNECTED"
    RECONNECTING = "RECONNECTING"
    DISCONNECTED = "DISCONNECTED"
    STOPPED = "STOPPED"


class OverflowPolicy(_StrEnum):
    """What a subscriber's full buffer does with a new event."""

    DROP_OLDEST = "DROP_OLDEST"
    """Discard the oldest queued event (counted in ``.dropped``) and keep the newest."""
    BLOCK = "BLOCK"
    """Make the stream reader wait until the subscriber catches up."""


class GapState(_StrEnum):
    """Where a reported hole in a stream stands (:class:`~binance_conn.GapEvent`)."""

    OPEN = "OPEN"
    """Detected; being filled (``backfill=True``) or reported only."""
    FILLED = "FILLED"
    """Every missing event was fetched over REST and delivered, marked ``is_backfilled``."""
    UNFILLED = "UNFILLED"
    """The hole stays: no backfill asked, history gone, REST down or the weight budget exhausted."""


class BookState(_StrEnum):
    """Synchronisation state of a local order book (:class:`~binance_conn.OrderBook`)."""

    SYNCING = "SYNCING"
    """Buffering diffs and waiting for / applying the REST snapshot."""
    SYNCED = "SYNCED"
    """Continuous since the snapshot: the book equals Binance's down to the snapshot depth."""
    OUT_OF_SYNC = "OUT_OF_SYNC"
    """Continuity broke (gap, reconnect, rollover, REST failure); a resync follows."""


class OrderSide(_StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(_StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"


class OrderStatus(_StrEnum):
    NEW = "NEW"
    PENDING_NEW = "PENDING_NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PENDING_CANCEL = "PENDING_CANCEL"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

    @property
    def is_final(self) -> bool:
        """True for statuses after which the order never changes again."""
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.EXPIRED_IN_MATCH,
    }
)


class TimeInForce(_StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class ExecutionType(_StrEnum):
    NEW = "NEW"
    CANCELED = "CANCELED"
    REPLACED = "REPLACED"
    REJECTED = "REJECTED"
    TRADE = "TRADE"
    EXPIRED = "EXPIRED"
    TRADE_PREVENTION = "TRADE_PREVENTION"


class KlineInterval(_StrEnum):
    """Kline intervals; case-sensitive (``1m`` is a minute, ``1M`` a month)."""

    S1 = "1s"
    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H8 = "8h"
    H12 = "12h"
    D1 = "1d"
    D3 = "3d"
    W1 = "1w"
    MO1 = "1M"


E = TypeVar("E", bound=_StrEnum)


def coerce(enum_cls: Type[E], value: str) -> Union[E, str]:
    """Return the member of ``enum_cls`` whose value is ``value``, else ``value`` itself.

    One dict lookup: cheap enough for the stream hot path.
    """
    table: Dict[str, E] = enum_cls._value2member_map_  # type: ignore[assignment]
    return table.get(value, value)
