"""Steady trade generators for chaos tests (gaps / backfill): ``start_trades`` publishes trades of a symbol
at a fixed rate on ``@trade``, ``@aggTrade`` and the klines, whatever happens to the connections (trades
are recorded and published to whoever is subscribed at that instant; frozen or closed links just miss
them). Every published id stays observable (:meth:`TradesMixin.published_trade_ids`) and, within the
kept history, served by REST ``historicalTrades`` / ``aggTrades`` / ``klines``. Also the
"429 on the WebSocket handshake" control."""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING, Dict, List, Optional

from ._books import Pacer
from ._market import Market, TradeRec

if TYPE_CHECKING:
    from ._util import Clock

__all__ = ["TradesMixin"]


class TradesMixin:
    """Mixed into FakeBinance; relies on its ``market``, ``_emit_trade_rec`` and handshake refusal state."""

    market: Market
    clock: Clock
    _stopping: threading.Event
    _threads: List[threading.Thread]
    _lock: threading.Lock
    _refuse_until: float
    _refuse_status: int
    _refuse_retry_after: int

    if TYPE_CHECKING:
        def _emit_trade_rec(self, symbol: str, rec: TradeRec) -> None: ...

    def _init_trades(self) -> None:
        self._trade_gens: Dict[str, Pacer] = {}
        self._refuse_retry_after = 1

    def _stop_trades_all(self) -> None:
        self.stop_trades()

    def start_trades(self, symbol: str, rate: float = 2000.0, seed: Optional[int] = None) -> None:
        """Publish trades of ``symbol`` at ``rate`` per second (steady; late ones caught up in small batches) until
        :meth:`stop_trades` or stop. Prices alternate around the best bid/ask; the book is not changed."""
        name = self.market.get(symbol).spec.symbol
        self.stop_trades(name)
        rng = random.Random(seed)

        def step(n: int) -> None:
            for _ in range(n):
                self._generate_trade(name, rng)

        pacer = Pacer(f"fake-binance-trades-{name}", rate, step, self._stopping)
        self._trade_gens[name] = pacer
        self._threads.append(pacer.thread)

    def stop_trades(self, symbol: Optional[str] = None) -> None:
        """Stop the trade generator of ``symbol`` (default: all); joins its thread."""
        for name in ([symbol.upper()] if symbol is not None else list(self._trade_gens)):
            pacer = self._trade_gens.pop(name, None)
            if pacer is not None:
                pacer.stop()

    def trades_generated(self, symbol: str) -> int:
        """How many trades the running generator of ``symbol`` has published (0 when none runs)."""
        pacer = self._trade_gens.get(symbol.upper())
        return pacer.done if pacer is not None else 0

    def _generate_trade(self, symbol: str, rng: random.Random) -> None:
        with self.market.lock:
            st = self.market.state[symbol]
            spec = st.spec
            buyer_maker = rng.random() < 0.5
            price = (st.best_bid()[0] if buyer_maker else st.best_ask()[0]) or st.mid
            rec = st.record_trade(price, spec.min_qty * rng.randint(1, 100), self.clock.now_ms(), buyer_maker)
            self._emit_trade_rec(symbol, rec)

    def published_trade_ids(self, symbol: str) -> range:
        """Every trade id ``symbol`` has published since the fake began (ids are consecutive), generator or not."""
        with self.market.lock:
            st = self.market.get(symbol)
            return range(st.first_id, st.next_trade_id) if st.first_id >= 0 else range(0)

    def kept_trade_ids(self, symbol: str) -> range:
        """The trade ids REST history still serves (the last ``trade_history`` ones)."""
        with self.market.lock:
            st = self.market.get(symbol)
            return range(st.trades[0].id, st.trades[-1].id + 1) if st.trades else range(0)

    def throttle_handshakes(self, seconds: float, retry_after: int = 1) -> None:
        """Answer WebSocket handshakes with HTTP 429 and ``Retry-After: retry_after`` for the next ``seconds``
        (as Binance does to an IP over its connection-attempt limit)."""
        with self._lock:
            self._refuse_until = time.monotonic() + seconds
            self._refuse_status = 429
            self._refuse_retry_after = int(retry_after)

