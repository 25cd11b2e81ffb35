"""Order books of the fake exchange as a faithful source for local-book tests: the true book per symbol
(:meth:`BooksMixin.book`), explicit updates, diff-depth batching at 100 ms / 1000 ms (or immediate),
REST snapshots consistent with the diff stream, book faults (skipped update ids, stale snapshots,
resets, delayed snapshots) and a random book-activity generator.

Every book change goes through ``_emit_book`` (``_streams.py``) under the market lock, which hands the
diff to :meth:`BooksMixin._emit_diff`: published at once, or merged into the pending batch of each speed."""

from __future__ import annotations

import logging
import random
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ._futures_books import futures_depth_payload
from ._market import Market, SymbolState
from ._util import JSON, fmt

if TYPE_CHECKING:
    from ._util import Clock

__all__ = ["BooksMixin", "Pacer"]

log = logging.getLogger(__name__)

Num = Union[str, int, Decimal]
Level = Tuple[Decimal, Decimal]
_SPEEDS = ("100ms", "1000ms")
_PARTIAL = (5, 10, 20)


class _Pending:
    """One speed's diff batch of one symbol: ``U`` of its first update, ``u`` of its last, merged levels."""

    __slots__ = ("first", "last", "b", "a")

    def __init__(self, first: int) -> None:
        self.first = first
        self.last = first
        self.b: Dict[Decimal, Decimal] = {}
        self.a: Dict[Decimal, Decimal] = {}


class Pacer:
    """A thread calling ``step(n)`` so that ``rate`` units per second are done on average (late units are
    caught up in batches of at most ``max_batch``). Stops on :meth:`stop` or when ``stopping`` is set."""

    def __init__(self, name: str, rate: float, step: Callable[[int], None], stopping: threading.Event) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = float(rate)
        self.step = step
        self.done = 0
        self._stopping = stopping
        self._stop = threading.Event()
        self._max_batch = max(1, int(self.rate / 100))
        self.thread = threading.Thread(target=self._run, daemon=True, name=name)
        self.thread.start()

    def _run(self) -> None:
        import time

        t0 = time.monotonic()
        while not self._stop.is_set() and not self._stopping.is_set():
            elapsed = time.monotonic() - t0
            due = int(elapsed * self.rate) - self.done
            if due > 0:
                n = min(due, self._max_batch)
                try:
                    self.step(n)
                except Exception:  # noqa: BLE001 - a generator must not die silently mid-test
                    log.exception("%s step failed", self.thread.name)
                self.done += n
                continue
            self._stop.wait(max(0.0005, (self.done + 1) / self.rate - elapsed))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)


class BooksMixin:
    """Mixed into FakeBinance; relies on its ``market``, ``clock``, publishing and REST fault helpers."""

    market: Market
    clock: Clock
    product: str
    _stopping: threading.Event
    _threads: List[threading.Thread]

    if TYPE_CHECKING:  # provided by StreamsMixin / FakeBinance
        def _subscribed(self) -> set[str]: ...

        def publish(self, stream: str, payload: Union[JSON, List[JSON], str]) -> int: ...

        def delay_responses(self, seconds: float, count: int = 1, path: Optional[str] = None,
                            method: Optional[str] = None) -> None: ...

        def _book_update(self, symbol: str, bids: List[Level], asks: List[Level], skip_ids: int = 0,
                         ids: int = 1) -> Tuple[int, int]: ...

    def _init_books(self, depth_batching: bool) -> None:
        self.depth_batching = bool(depth_batching)
        self._pending: Dict[Tuple[str, str], _Pending] = {}
        self._stale: Dict[str, Tuple[int, JSON]] = {}
        self._activity: Dict[str, Pacer] = {}
        self._flusher: Optional[threading.Thread] = None
        self._history: Dict[str, Tuple[int, Dict[int, List[JSON]]]] = {}  # symbol -> (limit, id -> books)

    def _start_books(self) -> None:
        if self.depth_batching:
            self._flusher = threading.Thread(target=self._flush_loop, daemon=True, name="fake-binance-depth")
            self._flusher.start()
            self._threads.append(self._flusher)

    def _stop_books(self) -> None:
        for pacer in list(self._activity.values()):
            pacer.stop()
        self._activity.clear()

    # -- the true book ----------------------------------------------------------------------------------
    def book(self, symbol: str, limit: Optional[int] = None) -> JSON:
        """The fake's true book now: ``{"lastUpdateId", "bids", "asks"}`` with (price, qty) Decimal tuples,
        best first, at most ``limit`` levels a side (all by default). Includes updates still batched."""
        with self.market.lock:
            st = self.market.get(symbol)
            return {"lastUpdateId": st.update_id, "bids": st.sorted_levels("b", limit),
                    "asks": st.sorted_levels("a", limit)}

    def book_update(self, symbol: str, bids: Sequence[Tuple[Num, Num]] = (), asks: Sequence[Tuple[Num, Num]] = (),
                    ids: Optional[int] = None) -> Tuple[int, int]:
        """Set absolute levels (qty 0 removes) as one book event consuming ``ids`` update ids (default: one per
        level); emits the diff streams (``U``..``u``), partial depth and bookTicker. Returns ``(U, u)``."""
        b = [(Decimal(p), Decimal(q)) for p, q in bids]
        a = [(Decimal(p), Decimal(q)) for p, q in asks]
        return self._book_update(symbol, b, a, 0, ids if ids is not None else max(1, len(b) + len(a)))

    def record_book_history(self, symbol: str, limit: int = 100) -> None:
        """From now on, keep ``symbol``'s true book (``limit`` levels a side) at every update id it reaches, for
        :meth:`book_at`: a test can then check a local book delivered at id X against the exchange's book at X."""
        with self.market.lock:
            st = self.market.get(symbol)
            self._history[st.spec.symbol] = (int(limit), {})
            self._record(st)

    def book_at(self, symbol: str, update_id: int) -> List[JSON]:
        """The books (like :meth:`book`, cut to the recorded limit) ``symbol`` had at ``update_id`` since
        :meth:`record_book_history`, oldest first: several after a :meth:`reset_book` reused ids, none if the
        book never stood at that id."""
        with self.market.lock:
            hist = self._history.get(symbol.upper())
            return list(hist[1].get(int(update_id), ())) if hist is not None else []

    def _record(self, st: SymbolState) -> None:
        """Under the market lock, after a change of ``st``: keep its book at ``st.update_id`` if recorded."""
        hist = self._history.get(st.spec.symbol)
        if hist is not None:
            limit, books = hist
            books.setdefault(st.update_id, []).append(
                {"lastUpdateId": st.update_id, "bids": st.sorted_levels("b", limit),
                 "asks": st.sorted_levels("a", limit)})

    def _snapshot(self, symbol: str, limit: int) -> JSON:
        """The REST depth answer: the true book, or an armed stale one (:meth:`serve_stale_snapshot`)."""
        with self.market.lock:
            stale = self._stale.get(symbol)
            if stale is not None:
                left, snap = stale
                if left <= 1:
                    del self._stale[symbol]
                else:
                    self._stale[symbol] = (left - 1, snap)
                return {"lastUpdateId": snap["lastUpdateId"], "bids": snap["bids"][:limit],
                        "asks": snap["asks"][:limit]}
            st = self.market.get(symbol)
            return {"lastUpdateId": st.update_id, "bids": st.levels("b", limit), "asks": st.levels("a", limit)}

    # -- diff streams -----------------------------------------------------------------------------------
    def _emit_diff(self, subs: set[str], st: SymbolState, sym: str, first: int, changes: Dict[str, List[Level]],
                   now: int) -> None:
        """Called under the market lock for every published book change ``first``..``st.update_id``."""
        if self._history:
            self._record(st)
        if not self.depth_batching:
            streams = [s for s in (f"{sym}@depth", f"{sym}@depth@100ms", f"{sym}@depth@1000ms") if s in subs]
            if streams:
                payload = futures_depth_payload(self.product, Market.diff_depth_payload(st, first, st.update_id,
                                                                                       changes, now), first, now)
                for stream in streams:
                    self.publish(stream, payload)
            for n in _PARTIAL:
                for stream in (f"{sym}@depth{n}", f"{sym}@depth{n}@100ms", f"{sym}@depth{n}@1000ms"):
                    if stream in subs:
                        self.publish(stream, Market.partial_depth_payload(st, n))
            return
        for speed in _SPEEDS:
            key = (st.spec.symbol, speed)
            pend = self._pending.get(key)
            if pend is None:
                pend = self._pending[key] = _Pending(first)
            pend.last = st.update_id
            for p, q in changes["b"]:
                pend.b[p] = q
            for p, q in changes["a"]:
                pend.a[p] = q

    def flush_depth(self, symbol: Optional[str] = None, speed: Optional[str] = None) -> None:
        """Publish the pending diff batches now (of ``symbol`` / ``speed`` "100ms" or "1000ms", default all),
        with the partial depth streams of that speed. Nothing to do without ``depth_batching``."""
        subs = self._subscribed()
        now = self.clock.now_ms()
        with self.market.lock:
            for sp in (_SPEEDS if speed is None else (speed,)):
                for name in ([symbol.upper()] if symbol is not None else list(self.market.state)):
                    self._flush_one(subs, name, sp, now)

    def _flush_one(self, subs: set[str], symbol: str, speed: str, now: int) -> None:
        sym = symbol.lower()
        st = self.market.get(symbol)
        pend = self._pending.pop((symbol, speed), None)
        diff_streams = (f"{sym}@depth@100ms",) if speed == "100ms" else (f"{sym}@depth", f"{sym}@depth@1000ms")
        if pend is not None:
            streams = [s for s in diff_streams if s in subs]
            if streams:
                payload = futures_depth_payload(self.product, {
                    "e": "depthUpdate", "E": now, "s": symbol, "U": pend.first, "u": pend.last,
                    "b": [[fmt(p), fmt(q)] for p, q in pend.b.items()],
                    "a": [[fmt(p), fmt(q)] for p, q in pend.a.items()]}, pend.first, now)
                for stream in streams:
                    self.publish(stream, payload)
        for n in _PARTIAL:
            names = (f"{sym}@depth{n}@100ms",) if speed == "100ms" else (f"{sym}@depth{n}", f"{sym}@depth{n}@1000ms")
            for stream in names:
                if stream in subs:
                    self.publish(stream, Market.partial_depth_payload(st, n))

    def _flush_loop(self) -> None:
        tick = 0
        while not self._stopping.wait(0.1):
            tick += 1
            try:
                self.flush_depth(speed="100ms")
                if tick % 10 == 0:
                    self.flush_depth(speed="1000ms")
            except Exception:  # noqa: BLE001 - keep publishing whatever a test did to the book
                log.exception("depth flush failed")

    def _break_batches(self, symbol: str) -> None:
        """Before an update that is not published: send what is pending, so no batch spans the hole."""
        if self.depth_batching:
            self.flush_depth(symbol)

    # -- faults -----------------------------------------------------------------------------------------
    def skip_depth_updates(self, symbol: str, count: int = 1) -> Tuple[int, int]:
        """Change the book (the best bid's quantity, or a new level on an empty side) under ``count`` update ids
        that are never published: the next diff's ``U`` jumps, and a client ignoring the jump keeps a wrong
        book. Returns the hidden ``(U, u)``."""
        if count < 1:
            raise ValueError("count must be >= 1")
        self._break_batches(symbol)
        with self.market.lock:
            st = self.market.get(symbol)
            spec = st.spec
            if st.bids:
                p, q = st.best_bid()
                st.bids[p] = q + spec.step_size
            else:
                ask = st.best_ask()[0] if st.asks else st.mid
                st.bids[max(spec.tick_size, ask - spec.tick_size)] = spec.min_qty
            first = st.update_id + 1
            st.update_id += count
            if self._history:
                self._record(st)
            return first, st.update_id

    def serve_stale_snapshot(self, symbol: str, count: int = 1, advance: int = 1) -> int:
        """Capture the book now and answer the next ``count`` REST depth requests of ``symbol`` with it; then
        make ``advance`` published random updates so the capture is already older than diffs sent.
        Returns the stale ``lastUpdateId``."""
        with self.market.lock:
            st = self.market.get(symbol)
            snap: JSON = {"lastUpdateId": st.update_id, "bids": st.levels("b", 5000), "asks": st.levels("a", 5000)}
            self._stale[st.spec.symbol] = (count, snap)
        rng = random.Random(snap["lastUpdateId"])
        for _ in range(advance):
            self._random_update(symbol, rng, 2)
        return int(snap["lastUpdateId"])

    def reset_book(self, symbol: str, update_id: Optional[int] = None, seed: Optional[int] = None) -> int:
        """Rebuild ``symbol``'s book (fresh quantities) under a new, lower update-id sequence starting at
        ``update_id`` (default: a random id below the current one). Nothing is published: the next diff's ``U``
        goes backwards. Returns the new ``lastUpdateId``."""
        self._break_batches(symbol)
        with self.market.lock:
            st = self.market.get(symbol)
            if seed is not None:
                st.rng.seed(seed)
            st.bids.clear()
            st.asks.clear()
            st.regen_book()
            st.update_id = update_id if update_id is not None else st.rng.randint(1, max(1, st.update_id // 2))
            if self._history:
                self._record(st)
            return st.update_id

    def delay_snapshots(self, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` REST depth answers for ``seconds`` (taken at the request, so they arrive old)."""
        path = {"usdm": "/fapi/v1/depth", "coinm": "/dapi/v1/depth"}.get(self.product, "/api/v3/depth")
        self.delay_responses(seconds, count, path=path, method="GET")

    # -- random activity --------------------------------------------------------------------------------
    def start_book_activity(self, symbol: str, rate: float = 50.0, seed: Optional[int] = None,
                            levels: int = 3) -> None:
        """Random book events on ``symbol`` at ``rate`` per second (each changes up to ``levels`` levels near
        the top: new quantities, removals, new levels, never a crossed book), until :meth:`stop_book_activity`
        or stop. Reproducible with ``seed``."""
        name = self.market.get(symbol).spec.symbol
        self.stop_book_activity(name)
        rng = random.Random(seed)

        def step(n: int) -> None:
            for _ in range(n):
                self._random_update(name, rng, levels)

        pacer = Pacer(f"fake-binance-book-{name}", rate, step, self._stopping)
        self._activity[name] = pacer
        self._threads.append(pacer.thread)

    def stop_book_activity(self, symbol: Optional[str] = None) -> None:
        """Stop the book activity of ``symbol`` (default: every symbol); joins its thread."""
        for name in ([symbol.upper()] if symbol is not None else list(self._activity)):
            pacer = self._activity.pop(name, None)
            if pacer is not None:
                pacer.stop()

    def _random_update(self, symbol: str, rng: random.Random, levels: int) -> Tuple[int, int]:
        with self.market.lock:
            st = self.market.get(symbol)
            spec = st.spec
            bids: Dict[Decimal, Decimal] = {}
            asks: Dict[Decimal, Decimal] = {}
            for _ in range(rng.randint(1, max(1, levels))):
                bid_side = rng.random() < 0.5
                book, out = (st.bids, bids) if bid_side else (st.asks, asks)
                best_bid = max([*st.bids, *bids]) if (st.bids or bids) else None
                best_ask = min([*st.asks, *asks]) if (st.asks or asks) else None
                anchor = (best_bid if bid_side else best_ask) or st.mid
                off = spec.tick_size * rng.randint(-2, 20)
                price = anchor - off if bid_side else anchor + off
                if price <= 0 or (bid_side and best_ask is not None and price >= best_ask) or \
                        (not bid_side and best_bid is not None and price <= best_bid):
                    continue
                known = price in book or (price in out and out[price] > 0)
                if known and rng.random() < 0.4:
                    qty = Decimal(0)
                else:
                    qty = spec.step_size * rng.randint(1, 10_000) + spec.min_qty
                out[price] = qty
            if not bids and not asks:
                return st.update_id, st.update_id
            return self._book_update(symbol, list(bids.items()), list(asks.items()), 0, len(bids) + len(asks))
