"""Local order books, sans-I/O: the level store and the synchronisation state machine.

Theory of operation (web-socket-streams.md, "How to manage a local order book correctly"):

1. Diffs of ``<symbol>@depth@100ms`` are buffered from the moment the stream flows.
2. A REST snapshot (``lastUpdateId`` X) is fetched *after* the first diff was buffered.
3. Buffered diffs the snapshot covers (spot: ``u <= X``) are discarded; the first one left
   must straddle it (spot: ``U <= X + 1 <= u``).  A snapshot older than every buffered
   diff (``X + 1 < U`` of the first one left) is stale: fetch another one.
4. Every later diff must continue the previous one (spot: ``U <= prev_u + 1``, ignoring
   ``u <= prev_u``; futures: ``pu == prev_u``): anything else is a gap -> ``OUT_OF_SYNC``.

The three rule points of steps 3-4 are a small :class:`DepthRule` object, so the futures
rule (``pu``) is a second instance of the same machinery (:data:`FUTURES_RULE`).

The level store (:class:`LevelBook`) is a dict price -> quantity per side plus an ascending
list of its prices kept with :mod:`bisect` (see ``benchmarks/book_bench.py`` for why).

Pruning, defined precisely.  A snapshot of ``limit`` levels tells every level of a side
*down to its worst price* (bids: ``>= floor``, asks: ``<= ceiling``); diffs then tell every
change at any price.  So the price band ``[floor, +inf)`` of bids (``(-inf, ceiling]`` of
asks) stays complete and exact for as long as continuity holds, whatever the market does;
beyond it there may be levels nobody told us about.  Levels outside the band are never
inserted (a diff there is ignored): the book holds exactly the complete band, so every view
is a true prefix of Binance's book and nothing "rots".  A side the snapshot returned whole
(fewer than ``limit`` levels) has no bound.  When the market walks away so that a truncated
side keeps fewer than :attr:`BookSync.refresh_below` levels, the book asks for a *refresh*:
a new snapshot rebased on the diffs recorded meanwhile, swapped in while it stays SYNCED.
An *audit* is the same rebase, comparing the top levels first (mismatches are counted).

A crossed book (best bid >= best ask) is never served as SYNCED: it breaks continuity.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from decimal import Decimal
from typing import Deque, Dict, List, NamedTuple, Optional, Sequence, Tuple

from ..enums import BookState

__all__ = ["DepthRule", "SPOT_RULE", "FUTURES_RULE", "LevelBook", "BookSync", "Diff", "snapshot_limit_for",
           "APPLY", "STALE", "GAP", "IGNORED", "APPLIED", "CHANGED", "SNAPSHOT_WEIGHTS", "snapshot_weight",
           "FUTURES_SNAPSHOT_WEIGHTS", "FUTURES_SNAPSHOT_LIMITS", "futures_snapshot_limit", "depth_rule"]

Level = Tuple[Decimal, Decimal]
Levels = Sequence[Sequence[Decimal]]

APPLY, STALE, GAP = 0, 1, 2
"""Verdicts of :meth:`DepthRule.next` for a diff following the book's last update id."""

IGNORED, APPLIED, CHANGED = 0, 1, 2
"""What :meth:`BookSync.on_diff` / :meth:`BookSync.on_snapshot` did: nothing visible, a SYNCED
book changed (deliver a view), or the state changed (see :attr:`BookSync.state`)."""

SNAPSHOT_WEIGHTS: Tuple[Tuple[int, int], ...] = ((100, 5), (500, 25), (1000, 50), (5000, 250))
"""REST ``depth`` weight by limit (rest-api.md): the cheapest limit of each weight tier."""


FUTURES_SNAPSHOT_WEIGHTS: Tuple[Tuple[int, int], ...] = ((50, 2), (100, 5), (500, 10), (1000, 20))
"""``GET /fapi/v1/depth`` weight by limit (binance-futures-reference.md section 3.3): 5-50 -> 2,
100 -> 5, 500 -> 10, 1000 -> 20."""

FUTURES_SNAPSHOT_LIMITS: Tuple[int, ...] = (5, 10, 20, 50, 100, 500, 1000)
"""The only limits futures ``depth`` accepts (section 3.3; at most 1000 levels)."""


def snapshot_weight(limit: int, futures: bool = False) -> int:
    """Request weight of ``GET /api/v3/depth`` (futures: ``/fapi/v1/depth``) at ``limit``."""
    tiers = FUTURES_SNAPSHOT_WEIGHTS if futures else SNAPSHOT_WEIGHTS
    for top, weight in tiers:
        if limit <= top:
            return weight
    return tiers[-1][1]


def futures_snapshot_limit(limit: int) -> int:
    """The smallest limit futures accept that is >= ``limit`` (1000 at most)."""
    for allowed in FUTURES_SNAPSHOT_LIMITS:
        if allowed >= limit:
            return allowed
    return FUTURES_SNAPSHOT_LIMITS[-1]


def snapshot_limit_for(depth: int, futures: bool = False) -> int:
    """The snapshot size for subscribers wanting ``depth`` levels: the cheapest weight tier with
    at least twice as many levels (room before the band gets thin), 5000 at most (futures: 1000)."""
    tiers = FUTURES_SNAPSHOT_WEIGHTS if futures else SNAPSHOT_WEIGHTS
    for top, _ in tiers:
        if top >= 2 * depth:
            return top
    return tiers[-1][0]


class DepthRule(NamedTuple):
    """The continuity rules of one market (spot: ``U``/``u``; futures: ``pu``)."""

    name: str
    uses_pu: bool

    def covered(self, snapshot_id: int, last: int) -> bool:
        """A buffered diff ending at ``last`` is already in the snapshot (discard it)."""
        return last <= snapshot_id if not self.uses_pu else last < snapshot_id

    def first(self, snapshot_id: int, first: int, last: int) -> bool:
        """The first diff applied on a snapshot must straddle it."""
        if self.uses_pu:
            return first <= snapshot_id <= last
        return first <= snapshot_id + 1 <= last

    def next(self, prev: int, first: int, last: int, pu: Optional[int]) -> int:
        """:data:`APPLY`, :data:`STALE` (already applied: ignore) or :data:`GAP` for a diff after ``prev``."""
        if last <= prev:
            return STALE
        if self.uses_pu:
            return APPLY if pu == prev else GAP
        # web-socket-streams.md: ignore u < id; U > id + 1 means missed events; normally U == prev u + 1
        return APPLY if first <= prev + 1 else GAP


SPOT_RULE = DepthRule("spot", False)
FUTURES_RULE = DepthRule("futures", True)


def depth_rule(product: str) -> DepthRule:
    """The sync rule of ``product`` (``config.PRODUCTS``): spot ``U``/``u``, USD-M and COIN-M ``pu``
    (binance-futures-reference.md section 6)."""
    return SPOT_RULE if product == "spot" else FUTURES_RULE


class Diff(NamedTuple):
    """One buffered diff (what :meth:`BookSync.on_diff` received)."""

    first: int
    last: int
    bids: Sequence[Level]
    asks: Sequence[Level]
    event_time: Optional[int]
    pu: Optional[int]


class LevelBook:
    """Both sides of a book: dict price -> qty and an ascending price list per side.

    ``bid_floor``/``ask_ceiling``: the complete band (None: unbounded); levels outside are
    never inserted (module docstring, "Pruning")."""

    __slots__ = ("bids", "asks", "bid_keys", "ask_keys", "bid_floor", "ask_ceiling", "last_update_id")

    def __init__(self, bids: Levels = (), asks: Levels = (), limit: int = 0, last_update_id: int = 0) -> None:
        self.bids: Dict[Decimal, Decimal] = {p: q for p, q in bids if q}
        self.asks: Dict[Decimal, Decimal] = {p: q for p, q in asks if q}
        self.bid_keys: List[Decimal] = sorted(self.bids)
        self.ask_keys: List[Decimal] = sorted(self.asks)
        truncated = limit > 0
        self.bid_floor: Optional[Decimal] = (self.bid_keys[0] if truncated and len(bids) >= limit and self.bid_keys
                                             else None)
        self.ask_ceiling: Optional[Decimal] = (self.ask_keys[-1] if truncated and len(asks) >= limit
                                               and self.ask_keys else None)
        self.last_update_id = last_update_id

    def apply(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        """Set absolute quantities (0 removes a level); levels outside the band are ignored."""
        if bids:
            d, keys, floor = self.bids, self.bid_keys, self.bid_floor
            for price, qty in bids:
                if qty:
                    if price in d:
                        d[price] = qty
                    elif floor is None or price >= floor:
                        d[price] = qty
                        insort(keys, price)
                elif price in d:
                    del d[price]
                    del keys[bisect_left(keys, price)]
        if asks:
            d, keys, ceiling = self.asks, self.ask_keys, self.ask_ceiling
            for price, qty in asks:
                if qty:
                    if price in d:
                        d[price] = qty
                    elif ceiling is None or price <= ceiling:
                        d[price] = qty
                        insort(keys, price)
                elif price in d:
                    del d[price]
                    del keys[bisect_left(keys, price)]

    def is_crossed(self) -> bool:
        return bool(self.bid_keys) and bool(self.ask_keys) and self.bid_keys[-1] >= self.ask_keys[0]

    def top(self, depth: Optional[int]) -> Tuple[Tuple[Level, ...], Tuple[Level, ...]]:
        """``(bids best first, asks best first)``, at most ``depth`` each (None: all)."""
        bk, ak, bd, ad = self.bid_keys, self.ask_keys, self.bids, self.asks
        if depth is None:
            bsel = bk[::-1]
            asel = ak
        else:
            bsel = bk[:-depth - 1:-1] if depth > 0 else []
            asel = ak[:depth]
        return tuple([(p, bd[p]) for p in bsel]), tuple([(p, ad[p]) for p in asel])

    def thin_side(self, below: int) -> bool:
        """A truncated side holds fewer than ``below`` levels (time for a refresh)."""
        return ((self.bid_floor is not None and len(self.bid_keys) < below)
                or (self.ask_ceiling is not None and len(self.ask_keys) < below))

    def __len__(self) -> int:
        return len(self.bid_keys) + len(self.ask_keys)


class BookSync:
    """The synchronisation state machine of one symbol's book (module docstring).

    Feed it diffs (:meth:`on_diff`) and REST snapshots (:meth:`on_snapshot`); read
    :attr:`state`, :attr:`book`, :attr:`wants_snapshot`.  After a break (:attr:`state` is
    ``OUT_OF_SYNC``; :attr:`break_cause`, :attr:`gap`), call :meth:`restart` to go SYNCING.

    Args:
        rule: :data:`SPOT_RULE` or :data:`FUTURES_RULE`.
        max_buffer: diffs kept while waiting for a snapshot (the oldest go first).
        refresh_below: a truncated side with fewer levels asks for a refresh (0: never).
        audit_depth: top levels compared by an audit.
    """

    def __init__(self, rule: DepthRule = SPOT_RULE, *, max_buffer: int = 5000, refresh_below: int = 0,
                 audit_depth: int = 20) -> None:
        self.rule = rule
        self.state = BookState.SYNCING
        self.book: Optional[LevelBook] = None
        self.buffer: Deque[Diff] = deque(maxlen=max_buffer)
        self.refresh_below = refresh_below
        self.audit_depth = audit_depth
        self.recording = True  # buffer diffs (always while SYNCING; during a refresh/audit when SYNCED)
        self.requested = False  # a snapshot was asked for and has not arrived / failed yet
        self.snapshot: Optional[Tuple[int, Levels, Levels, int]] = None  # pending (id, bids, asks, limit)
        self.refresh_wanted = False
        self.auditing = False
        self.event_time: Optional[int] = None
        self.break_cause: Optional[str] = None
        # (first_missing, last_missing or None: not known yet) of the last break
        self.gap: Optional[Tuple[int, Optional[int]]] = None
        self.recent: Deque[Tuple[int, int]] = deque(maxlen=64)  # (U, u) applied lately: duplicates
        # counters
        self.applied = 0
        self.stale_snapshots = 0
        self.audits = 0
        self.audit_mismatches = 0
        self.refreshes = 0

    # ------------------------------------------------------------------ queries
    @property
    def last_update_id(self) -> int:
        book = self.book
        return book.last_update_id if book is not None else 0

    @property
    def wants_snapshot(self) -> bool:
        """Ask for a snapshot now: syncing with the stream flowing, or a refresh/audit wanted."""
        if self.requested or self.snapshot is not None:
            return False
        if self.state is BookState.SYNCING:
            return bool(self.buffer)
        return self.state is BookState.SYNCED and (self.refresh_wanted or self.auditing)

    def view(self, depth: Optional[int]) -> Tuple[Tuple[Level, ...], Tuple[Level, ...]]:
        """The levels to show: the book's top ``depth`` when SYNCED, else nothing."""
        book = self.book
        if self.state is not BookState.SYNCED or book is None:
            return (), ()
        return book.top(depth)

    # ------------------------------------------------------------------ inputs
    def snapshot_requested(self) -> None:
        """The owner scheduled a snapshot fetch."""
        self.requested = True
        self.recording = True

    def snapshot_failed(self) -> int:
        """The fetch failed (REST error): a SYNCING book goes OUT_OF_SYNC (restart, then retry)."""
        self.requested = False
        if self.state is BookState.SYNCING:
            kept = list(self.buffer)  # still valid: the next snapshot is checked against them
            code = self._break("snapshot failed")
            self.buffer.extend(kept)
            return code
        if self.state is BookState.SYNCED:
            self._end_recording()
        return IGNORED

    def request_audit(self) -> None:
        """Compare the top levels with a fresh snapshot (a SYNCED book only)."""
        if self.state is BookState.SYNCED:
            self.auditing = True

    def on_diff(self, first: int, last: int, bids: Sequence[Level], asks: Sequence[Level],
                event_time: Optional[int] = None, pu: Optional[int] = None) -> int:
        """One diff of the stream; returns :data:`IGNORED`, :data:`APPLIED` or :data:`CHANGED`."""
        self.event_time = event_time
        book = self.book
        if self.state is BookState.SYNCED and book is not None:
            prev = book.last_update_id
            verdict = self.rule.next(prev, first, last, pu)
            if verdict is STALE:
                if (first, last) in self.recent:
                    return IGNORED  # a duplicate (e.g. a rollover overlap)
                # ids went backwards and it is no duplicate: the exchange's book was reset
                return self._break("reset", Diff(first, last, bids, asks, event_time, pu))
            if verdict is GAP:
                return self._break("gap", Diff(first, last, bids, asks, event_time, pu), gap=(prev + 1, first - 1))
            book.apply(bids, asks)
            book.last_update_id = last
            self.recent.append((first, last))
            self.applied += 1
            if book.is_crossed():
                return self._break("crossed")
            if self.recording:
                self.buffer.append(Diff(first, last, bids, asks, event_time, pu))
                if self.snapshot is not None:
                    return self._rebase()
            elif self.refresh_below and book.thin_side(self.refresh_below):
                self.refresh_wanted = True
            return APPLIED
        if self.state is BookState.SYNCING:
            self.buffer.append(Diff(first, last, bids, asks, event_time, pu))
            if self.snapshot is not None:
                return self._rebase()
        return IGNORED

    def on_snapshot(self, last_update_id: int, bids: Levels, asks: Levels, limit: int) -> int:
        """A REST snapshot (``limit`` levels asked) arrived; returns like :meth:`on_diff`.

        A stale one (older than every buffered diff) is dropped and counted;
        :attr:`wants_snapshot` then asks for another."""
        self.requested = False
        if self.state is BookState.OUT_OF_SYNC or not self.recording:
            return IGNORED
        self.snapshot = (last_update_id, bids, asks, limit)
        return self._rebase()

    def restart(self) -> None:
        """OUT_OF_SYNC -> SYNCING (keeps the diffs buffered since the break)."""
        self.state = BookState.SYNCING
        self.recording = True

    def reset(self, cause: str) -> int:
        """Drop the book: the link carrying the stream went down (reconnect, zombie ...)."""
        if self.state is BookState.OUT_OF_SYNC:
            return IGNORED
        if self.state is BookState.SYNCING and not self.buffer and self.snapshot is None:
            return IGNORED
        self.buffer.clear()
        last = self.last_update_id
        return self._break(cause, gap=(last + 1, None) if last else None)

    # ------------------------------------------------------------------ internals
    def _break(self, cause: str, keep: Optional[Diff] = None, gap: Optional[Tuple[int, Optional[int]]] = None) -> int:
        self.state = BookState.OUT_OF_SYNC
        self.break_cause = cause
        self.gap = gap
        self.book = None
        self.snapshot = None
        self.refresh_wanted = self.auditing = False
        self.recent.clear()
        self.buffer.clear()
        if keep is not None:
            self.buffer.append(keep)  # the diff that broke continuity is the first of the next sync
        return CHANGED

    def _end_recording(self) -> None:
        self.recording = False
        self.buffer.clear()
        self.snapshot = None
        self.refresh_wanted = self.auditing = False

    def _rebase(self) -> int:
        """Build a book from the pending snapshot and the buffered diffs it does not cover."""
        snap = self.snapshot
        assert snap is not None
        sid, bids, asks, limit = snap
        rule = self.rule
        buf = self.buffer
        while buf and rule.covered(sid, buf[0].last):
            buf.popleft()
        at_snapshot = not buf and self.book is not None and self.book.last_update_id == sid
        if not buf and not at_snapshot:
            return IGNORED  # the stream has not reached the snapshot yet: wait for diffs
        head = buf[0] if buf else None
        if head is not None and not rule.first(sid, head.first, head.last):
            # older than every diff we hold (Binance step 4): fetch another snapshot
            self.snapshot = None
            self.stale_snapshots += 1
            return IGNORED
        book = LevelBook(bids, asks, limit, sid)
        prev = sid
        for d in list(buf):
            verdict = APPLY if d is head else rule.next(prev, d.first, d.last, d.pu)
            if verdict is STALE:
                continue
            if verdict is GAP:
                # a hole among the buffered diffs after the snapshot: start over from there
                gap = (prev + 1, d.first - 1)
                while buf and buf[0] is not d:
                    buf.popleft()
                self.snapshot = None
                self.stale_snapshots += 1
                if self.state is BookState.SYNCED:  # cannot happen: these diffs passed the book's own check
                    return self._break("gap", d, gap)
                return IGNORED
            book.apply(d.bids, d.asks)
            prev = d.last
        book.last_update_id = prev
        if book.is_crossed():
            return self._break("crossed")
        self.recent.clear()
        self.recent.extend((d.first, d.last) for d in buf)
        old = self.book
        was_synced = self.state is BookState.SYNCED and old is not None
        if was_synced and old is not None:
            if self.auditing:
                self.audits += 1
                if not _same_top(old, book, self.audit_depth):
                    self.audit_mismatches += 1
            self.refreshes += 1
        self.book = book
        self._end_recording()
        if was_synced:
            return APPLIED
        self.state = BookState.SYNCED
        self.break_cause = None
        return CHANGED


def _same_top(a: LevelBook, b: LevelBook, depth: int) -> bool:
    """The top ``depth`` levels agree, within the band both books know."""
    ab, aa = a.top(depth)
    bb, ba = b.top(depth)
    nb = min(len(ab), len(bb))
    na = min(len(aa), len(ba))
    return ab[:nb] == bb[:nb] and aa[:na] == ba[:na]
