"""Stream-parser benchmark: ``WireParser.parse`` per frame, per stream kind, same run.

    python benchmarks/parse_bench.py                    # what `make bench` runs (a few seconds)
    python benchmarks/parse_bench.py --ref main         # + the parser of git ref `main`, same process
                                                        # (ratios of kinds `main` cannot parse are moot)
    python benchmarks/parse_bench.py --number 20000 --repeat 9

For each stream kind a realistic combined-stream frame (trade, aggTrade, bookTicker, a
20-level diff depth, a 20-level partial book, kline, 24 h ticker, mini ticker, a 100-symbol
``!miniTicker@arr``) is parsed ``--number`` times; the best of ``--repeat`` interleaved
rounds is kept (ns per frame).  Columns:

- **bare**: ``simplejson`` decode + ``Decimal`` per amount + a ``__slots__`` object, no
  routing nor checks (the floor any typed parser pays);
- **ref** (with ``--ref``): ``binance_conn/_core/wire.py`` as it is at that git ref, loaded
  next to the current one (it uses the current events and stream grammar);
- **now**: the current ``WireParser``;
- ratios ``now/bare`` and ``now/ref`` (same process, same frames, interleaved rounds).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import subprocess
import sys
import timeit
import types
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simplejson  # noqa: E402

from binance_conn._core import wire  # noqa: E402

E = 1672515782136


def _levels(n: int, base: float) -> List[List[str]]:
    return [[f"{base + i * 0.01:.8f}", f"{1.5 + i:.8f}"] for i in range(n)]


def _mini(sym: str) -> Dict[str, Any]:
    return {"e": "24hrMiniTicker", "E": E, "s": sym, "c": "0.00250000", "o": "0.00100000", "h": "0.00250000",
            "l": "0.00100000", "v": "10000.00000000", "q": "18.00000000"}


FRAMES: Dict[str, Dict[str, Any]] = {
    "trade": {"stream": "btcusdt@trade", "data": {
        "e": "trade", "E": E, "s": "BTCUSDT", "t": 12345, "p": "60000.01000000", "q": "0.00100000", "T": E,
        "m": True, "M": True}},
    "aggTrade": {"stream": "btcusdt@aggTrade", "data": {
        "e": "aggTrade", "E": E, "s": "BTCUSDT", "a": 12345, "p": "60000.01000000", "q": "0.00100000", "f": 100,
        "l": 105, "T": E, "m": True, "M": True}},
    "bookTicker": {"stream": "btcusdt@bookTicker", "data": {
        "u": 400900217, "s": "BTCUSDT", "b": "25.35190000", "B": "31.21000000", "a": "25.36520000",
        "A": "40.66000000"}},
    "depth@100ms": {"stream": "btcusdt@depth@100ms", "data": {
        "e": "depthUpdate", "E": E, "s": "BTCUSDT", "U": 157, "u": 160, "b": _levels(20, 60000.0),
        "a": _levels(20, 60001.0)}},
    "depth20": {"stream": "btcusdt@depth20@100ms", "data": {
        "lastUpdateId": 160, "bids": _levels(20, 60000.0), "asks": _levels(20, 60001.0)}},
    "kline": {"stream": "btcusdt@kline_1m", "data": {
        "e": "kline", "E": E, "s": "BTCUSDT", "k": {
            "t": E - 2136, "T": E + 57863, "s": "BTCUSDT", "i": "1m", "f": 100, "L": 200, "o": "0.0010",
            "c": "0.0020", "h": "0.0025", "l": "0.0015", "v": "1000", "n": 100, "x": False, "q": "1.0000",
            "V": "500", "Q": "0.500", "B": "123456"}}},
    "ticker": {"stream": "btcusdt@ticker", "data": {
        "e": "24hrTicker", "E": E, "s": "BTCUSDT", "p": "0.0015", "P": "250.00", "w": "0.0018", "x": "0.0009",
        "c": "0.0025", "Q": "10", "b": "0.0024", "B": "10", "a": "0.0026", "A": "100", "o": "0.0010",
        "h": "0.0025", "l": "0.0010", "v": "10000", "q": "18", "O": 0, "C": 86400000, "F": 0, "L": 18150,
        "n": 18151}},
    "miniTicker": {"stream": "btcusdt@miniTicker", "data": _mini("BTCUSDT")},
    "!miniTicker@arr(100)": {"stream": "!miniTicker@arr", "data": [_mini(f"SYM{i}USDT") for i in range(100)]},
}


class BareEvent:
    __slots__ = ("values",)

    def __init__(self, values: Any) -> None:
        self.values = values


_AMOUNTS = frozenset("pPqQbBaAcohlvwxV")


def _bare(text: str) -> Any:
    msg = simplejson.loads(text, use_decimal=True)
    data = msg["data"]
    rows = data if isinstance(data, list) else [data]
    out = []
    for d in rows:
        body = d.get("k", d)
        vals = {k: (Decimal(v) if k in _AMOUNTS and isinstance(v, str) else v) for k, v in body.items()}
        for side in ("b", "a", "bids", "asks"):
            if isinstance(body.get(side), list):
                vals[side] = tuple((Decimal(p), Decimal(q)) for p, q in body[side])
        out.append(BareEvent(vals))
    return out


def _load_ref(ref: str) -> Optional[types.ModuleType]:
    """``binance_conn/_core/wire.py`` of git ``ref`` as module ``binance_conn._core._wire_ref``."""
    try:
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{ref}:binance_conn/_core/wire.py"],
                             check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"cannot load wire.py at {ref!r}: {exc}", file=sys.stderr)
        return None
    name = "binance_conn._core._wire_ref"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    mod.__package__ = "binance_conn._core"
    sys.modules[name] = mod
    exec(compile(src, f"{ref}:binance_conn/_core/wire.py", "exec"), mod.__dict__)  # noqa: S102 - our own source
    return mod


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ref", help="also time the parser of this git ref (e.g. main), same process")
    p.add_argument("--number", type=int, default=5000, help="frames per round")
    p.add_argument("--repeat", type=int, default=5, help="interleaved rounds (best kept)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args()
    variants: Dict[str, Callable[[str], Any]] = {"bare": _bare}
    ref = _load_ref(args.ref) if args.ref else None
    if ref is not None:
        variants["ref"] = ref.WireParser("binance").parse
    variants["now"] = wire.WireParser("binance").parse
    results: Dict[str, Dict[str, float]] = {}
    for kind, frame in FRAMES.items():
        text = json.dumps(frame, separators=(",", ":"))
        number = max(1, args.number // (20 if kind.startswith("!") else 1))
        best: Dict[str, float] = {}
        for fn in variants.values():  # warm the route caches
            fn(text)
        for _ in range(args.repeat):
            for name, fn in variants.items():
                t = min(timeit.repeat(functools.partial(fn, text), number=number, repeat=1)) / number * 1e9
                best[name] = min(best.get(name, t), t)
        results[kind] = best
    if args.json:
        print(json.dumps(results, indent=2))
        return
    cols = list(variants)
    head = f"{'stream':<22}" + "".join(f"{c + ' ns':>12}" for c in cols) + f"{'now/bare':>10}"
    head += f"{'now/ref':>10}" if "ref" in variants else ""
    print(head)
    for kind, best in results.items():
        line = f"{kind:<22}" + "".join(f"{best[c]:>12.0f}" for c in cols) + f"{best['now'] / best['bare']:>10.2f}"
        if "ref" in best:
            line += f"{best['now'] / best['ref']:>10.2f}"
        print(line)


if __name__ == "__main__":
    main()
