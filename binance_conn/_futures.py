"""Futures additions to the Connector: the listenKey user-data session next to the WebSocket API one.

On a futures exchange (``config.exchange.is_futures``) the connector's ``_user`` is a
:class:`FuturesUserData`: the listenKey stream (``_userdata/futures_session.py``) serves
every user-data topic (``on_order``, ``on_balance``, ``on_position`` ...), while the
WebSocket API link (``conn.ws_api``) stays the spot machinery's ``UserDataLink``; both
start, stop and report together.  :class:`FuturesConnectorMixin` holds the futures
subscription methods of :class:`~binance_conn.Connector`.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from ._io.dispatch import Subscription
from ._userdata.futures_delivery import (
    ACCOUNT_CONFIG_TOPIC,
    ALGO_ORDER_TOPIC,
    FUTURES_TOPICS,
    MARGIN_CALL_TOPIC,
    POSITION_TOPIC,
    TRADE_LITE_TOPIC,
)
from ._userdata.futures_session import FuturesUserSession
from .errors import ValidationError

__all__ = ["FuturesUserData", "FuturesConnectorMixin", "FUTURES_TOPICS"]

Callback = Callable[[Any], Any]


class FuturesUserData:
    """The user-data side of a futures connector: the listenKey session + the WebSocket API link.

    Anything not defined here (``request``, ``ensure_api`` ... used by ``conn.ws_api``) is the
    WebSocket API link's.
    """

    def __init__(self, api: Any, stream: FuturesUserSession) -> None:
        self.api = api
        self.stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self.api, name)

    @property
    def ready(self) -> Any:
        return self.stream.ready

    @property
    def wants_user_data(self) -> bool:
        return self.stream.wants_user_data

    def topic_changed(self, topic: str, added: bool) -> None:
        (self.stream if topic in FUTURES_TOPICS else self.api).topic_changed(topic, added)

    def start(self) -> None:
        self.api.start()
        self.stream.start()

    def begin_stop(self) -> None:
        self.api.begin_stop()
        self.stream.begin_stop()

    def threads(self) -> List[Any]:
        return list(self.api.threads()) + self.stream.threads()

    def finish_stop(self, reason: str) -> None:
        self.api.finish_stop(reason)
        self.stream.finish_stop(reason)

    def track_placed(self, response: Any) -> None:
        self.stream.track_placed(response)

    def stats(self) -> Dict[str, Any]:
        return {**self.stream.stats(), "ws_api": self.api.stats()}


class FuturesConnectorMixin:
    """Futures user-data subscriptions of the Connector (a futures exchange and credentials required)."""

    _user: Any

    def _subscribe_user(self, topic: str, name: str, callback: Optional[Callback], options: Dict[str, Any]
                        ) -> Subscription:  # pragma: no cover - the Connector's
        raise NotImplementedError

    def _futures_user(self, topic: str, name: str, callback: Optional[Callback], options: Dict[str, Any]
                      ) -> Subscription:
        if not isinstance(self._user, FuturesUserData):
            raise ValidationError("exchange", getattr(self, "exchange", None),
                                  f"{name}() needs a futures exchange (binance-usdm, binance-coinm ...)")
        return self._subscribe_user(topic, name, callback, options)

    def on_position(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Futures: :class:`~binance_conn.PositionUpdate` per changed position (ACCOUNT_UPDATE), plus
        reconciled ones (``is_reconciled=True``) after a gap in the user-data stream."""
        return self._futures_user(POSITION_TOPIC, "on_position", callback, options)

    def on_trade_lite(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Futures (USD-M): :class:`~binance_conn.TradeLite` per ``TRADE_LITE`` (early fill notice)."""
        return self._futures_user(TRADE_LITE_TOPIC, "on_trade_lite", callback, options)

    def on_margin_call(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Futures: :class:`~binance_conn.MarginCall` per ``MARGIN_CALL``."""
        return self._futures_user(MARGIN_CALL_TOPIC, "on_margin_call", callback, options)

    def on_account_config(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Futures: :class:`~binance_conn.AccountConfigUpdate` per ``ACCOUNT_CONFIG_UPDATE``."""
        return self._futures_user(ACCOUNT_CONFIG_TOPIC, "on_account_config", callback, options)

    def on_algo_order(self, callback: Optional[Callback] = None, **options: Any) -> Subscription:
        """Futures: :class:`~binance_conn.AlgoOrderUpdate` per ``ALGO_UPDATE`` (conditional orders)."""
        return self._futures_user(ALGO_ORDER_TOPIC, "on_algo_order", callback, options)

    def positions(self) -> List[Any]:
        """Futures: the open positions as the user-data session knows them (seeded from REST at start,
        updated by ACCOUNT_UPDATE, reconciled after gaps); ``[]`` before the seed or without user data."""
        user = self._user
        return user.stream.positions() if isinstance(user, FuturesUserData) else []


def make_futures_user(api: Any, config: Any, dispatcher: Any, rest: Callable[[], Any],
                      on_ready_change: Callable[[], None], acquire_slot: Callable[[], None],
                      transport_factory: Any) -> FuturesUserData:
    """The futures user-data side for ``config`` (the connector's ``_make_user``)."""
    stream = FuturesUserSession(config, dispatcher, rest, on_ready_change, acquire_slot=acquire_slot,
                                transport_factory=transport_factory)
    return FuturesUserData(api, stream)
