"""Local order book benchmark: applying a diff to a 5,000-level book, and the depth-20 view.

    python benchmarks/book_bench.py                 # what `make bench` runs (a few seconds)
    python benchmarks/book_bench.py --levels 5000 --changes 20 --number 20000

A book of ``--levels`` price levels per side (Decimal prices one tick apart) receives diffs
of ``--changes`` levels each, drawn like a busy symbol's ``@depth@100ms`` events: about half
change the quantity of an existing level near the top, a quarter insert a new level, a quarter
remove one (quantity 0), so the book size stays steady.  Per event (best of ``--repeat``):

- **bisect+dict**: :class:`binance_conn._core.book.LevelBook` (the library's choice): a dict
  price -> qty and an ascending list of prices kept with ``bisect.insort`` / ``del``;
- **sortedcontainers**: ``SortedDict`` per side (only if the package is importable; it is not
  a dependency);
- **dict+sort**: a dict only, sorting (``heapq.nlargest``) on every view (the naive way);
- **view20**: ``LevelBook.top(20)`` plus the ``OrderBook`` a subscriber receives;
- **sync**: ``BookSync.on_diff`` (continuity rule + apply + crossed check) per event.
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import timeit
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from binance_conn._core.book import BookSync, LevelBook  # noqa: E402
from binance_conn.enums import BookState  # noqa: E402
from binance_conn.events import OrderBook  # noqa: E402

Level = Tuple[Decimal, Decimal]
TICK = Decimal("0.01")
MID = Decimal("60000.00")


def make_book(levels: int) -> Tuple[List[Level], List[Level]]:
    bids = [(MID - TICK * (i + 1), Decimal("1.5")) for i in range(levels)]
    asks = [(MID + TICK * i, Decimal("2.5")) for i in range(levels)]
    return bids, asks


def make_diffs(levels: int, changes: int, count: int, seed: int = 1) -> List[Tuple[List[Level], List[Level]]]:
    """Diffs that keep the book size steady: update near the top, insert a fresh price, remove one."""
    rng = random.Random(seed)
    bid_set = {MID - TICK * (i + 1) for i in range(levels)}
    ask_set = {MID + TICK * i for i in range(levels)}
    out = []
    for _ in range(count):
        sides: List[List[Level]] = [[], []]
        for side, book, sign in ((0, bid_set, -1), (1, ask_set, 1)):
            for _ in range(changes // 2):
                r = rng.random()
                if r < 0.5:  # change a level among the 200 best
                    price = (MID - TICK * rng.randint(1, 200)) if sign < 0 else (MID + TICK * rng.randint(0, 199))
                    if price in book:
                        sides[side].append((price, Decimal(rng.randint(1, 999)) / 100))
                        continue
                    r = 0.6
                if r < 0.75:  # insert a half-tick level somewhere in the book
                    k = rng.randint(1, levels - 1)
                    price = (MID - TICK * k - TICK / 2) if sign < 0 else (MID + TICK * k + TICK / 2)
                    book.add(price)
                    sides[side].append((price, Decimal("0.7")))
                else:  # remove an existing level
                    price = rng.choice(tuple(book)) if len(book) > levels // 2 else next(iter(book))
                    book.discard(price)
                    sides[side].append((price, Decimal(0)))
        out.append((sides[0], sides[1]))
    return out


class SortedBook:
    """Both sides as ``sortedcontainers.SortedDict``."""

    def __init__(self, bids: List[Level], asks: List[Level]) -> None:
        from sortedcontainers import SortedDict

        self.bids = SortedDict(bids)
        self.asks = SortedDict(asks)

    def apply(self, bids: List[Level], asks: List[Level]) -> None:
        for d, levels in ((self.bids, bids), (self.asks, asks)):
            for p, q in levels:
                if q:
                    d[p] = q
                else:
                    d.pop(p, None)

    def top(self, n: int) -> Any:
        b = self.bids
        a = self.asks
        return ([(p, b[p]) for p in b.islice(len(b) - n, reverse=True)], [(p, a[p]) for p in a.islice(0, n)])


class DictBook:
    """Dicts only; a view sorts."""

    def __init__(self, bids: List[Level], asks: List[Level]) -> None:
        self.bids: Dict[Decimal, Decimal] = dict(bids)
        self.asks: Dict[Decimal, Decimal] = dict(asks)

    def apply(self, bids: List[Level], asks: List[Level]) -> None:
        for d, levels in ((self.bids, bids), (self.asks, asks)):
            for p, q in levels:
                if q:
                    d[p] = q
                else:
                    d.pop(p, None)

    def top(self, n: int) -> Any:
        return ([(p, self.bids[p]) for p in heapq.nlargest(n, self.bids)],
                [(p, self.asks[p]) for p in heapq.nsmallest(n, self.asks)])


def per_event(factory: Callable[[], Any], diffs: List[Any], repeat: int, view: Optional[int] = None) -> float:
    """ns per event (apply, plus a view of ``view`` levels if given), best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        book = factory()
        apply = book.apply
        top = book.top
        t0 = timeit.default_timer()
        if view is None:
            for b, a in diffs:
                apply(b, a)
        else:
            for b, a in diffs:
                apply(b, a)
                top(view)
        best = min(best, (timeit.default_timer() - t0) / len(diffs))
    return best * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", type=int, default=5000)
    ap.add_argument("--changes", type=int, default=20, help="levels per diff (both sides)")
    ap.add_argument("--number", type=int, default=5000, help="diffs per round")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    bids, asks = make_book(args.levels)
    diffs = make_diffs(args.levels, args.changes, args.number)
    print(f"order book: {args.levels} levels per side, {args.changes} changed levels per diff, "
          f"{args.number} diffs x {args.repeat} rounds (best), ns per diff event")
    rows: List[Tuple[str, Callable[[], Any]]] = [("bisect+dict (LevelBook)", lambda: LevelBook(bids, asks))]
    try:
        import sortedcontainers  # noqa: F401

        rows.append(("sortedcontainers.SortedDict", lambda: SortedBook(bids, asks)))
    except ImportError:
        print("  sortedcontainers: not installed (skipped)")
    rows.append(("dict + sort per view", lambda: DictBook(bids, asks)))
    print(f"  {'structure':30} {'apply':>10} {'apply+view20':>14}")
    for name, factory in rows:
        apply_ns = per_event(factory, diffs, args.repeat)
        both_ns = per_event(factory, diffs, args.repeat, view=20)
        print(f"  {name:30} {apply_ns:10.0f} {both_ns:14.0f}")

    book = LevelBook(bids, asks)
    n = 20000
    view_ns = min(timeit.repeat(lambda: book.top(20), number=n, repeat=args.repeat)) / n * 1e9

    def full_view() -> OrderBook:
        b, a = book.top(20)
        return OrderBook("binance", "BTCUSDT", BookState.SYNCED, 1, 1, b, a)

    ob_ns = min(timeit.repeat(full_view, number=n, repeat=args.repeat)) / n * 1e9
    print(f"  depth-20 view: LevelBook.top(20) {view_ns:.0f} ns; with the OrderBook event {ob_ns:.0f} ns")

    best = float("inf")
    for _ in range(args.repeat):
        sync = BookSync()
        sync.on_diff(2, 2, (), ())
        sync.snapshot_requested()
        sync.on_snapshot(1, bids, asks, 0)
        assert sync.state is BookState.SYNCED
        t0 = timeit.default_timer()
        for i, (b, a) in enumerate(diffs):
            sync.on_diff(i + 3, i + 3, b, a)
        best = min(best, (timeit.default_timer() - t0) / len(diffs))
        assert sync.state is BookState.SYNCED, sync.break_cause
    print(f"  BookSync.on_diff (rule + apply + crossed check): {best * 1e9:.0f} ns per diff "
          f"-> {1 / best:,.0f} diffs/s")


if __name__ == "__main__":
    main()
