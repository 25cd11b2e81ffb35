"""Recording overhead on the stream reader: per frame, recording off vs on, same run.

    python benchmarks/record_bench.py                 # what `make bench` runs (a few seconds)
    python benchmarks/record_bench.py --number 50000 --repeat 7

The reader's per-read work is replayed in a loop on realistic combined trade frames
(one frame per socket read, the worst case for a per-read hook): UTF-8 decode plus
``StreamProtocol.receive_text`` (parse to a typed event, stream bookkeeping).  Columns,
ns per frame, best of ``--repeat`` interleaved rounds:

- **bare**: that work with no recording hook at all (the code before issue 16);
- **off**: plus the hook as it stands while nothing records (``tap.rec is not None``);
- **on**: plus ``Recorder.ws_frames`` (timestamp, one tuple on the bounded queue) while a
  real recorder writes gzip JSON Lines to a temporary file on its own thread (the
  writer's CPU competes for the GIL, as in production);
- ratios ``off/bare`` and ``on/bare``; then the writer: lines written, lines dropped (queue
  full), compressed bytes per line, and how long it still needed after the last round to
  drain its queue (it keeps up when that is short).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from binance_conn._core.protocol import StreamProtocol  # noqa: E402
from binance_conn._io.recorder import Recorder, Tap  # noqa: E402
from binance_conn.config import ConfigBuilder  # noqa: E402

E = 1672515782136
STREAM = "btcusdt@trade"


def _frames(n: int) -> List[List[Tuple[int, bytes]]]:
    out = []
    for i in range(n):
        data = {"e": "trade", "E": E + i, "s": "BTCUSDT", "t": 1000 + i, "p": f"{60000 + i % 100 * 0.01:.8f}",
                "q": "0.00100000", "T": E + i, "m": bool(i % 2), "M": True}
        out.append([(1, json.dumps({"stream": STREAM, "data": data}, separators=(",", ":")).encode())])
    return out


def _proto() -> StreamProtocol:
    cfg = ConfigBuilder().build()
    proto = StreamProtocol.from_settings(cfg.exchange.name, cfg.websocket, "spot")
    proto.set_streams([STREAM])
    proto.on_connected(time.monotonic(), [STREAM])
    return proto


def _reader(frames: List[List[Tuple[int, bytes]]], tap: Any, hook: bool) -> Callable[[], None]:
    proto = _proto()
    receive = proto.receive_text
    now = time.monotonic()

    if not hook:
        def run() -> None:
            for read in frames:
                for _, payload in read:
                    receive(payload.decode("utf-8"), now)
    else:
        def run() -> None:
            for read in frames:
                if tap.rec is not None:
                    tap.rec.ws_frames(1, read)
                for _, payload in read:
                    receive(payload.decode("utf-8"), now)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--number", type=int, default=20000, help="frames per round")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved rounds (best kept)")
    args = ap.parse_args()
    frames = _frames(args.number)
    off_tap, on_tap = Tap(), Tap()
    best = {"bare": float("inf"), "off": float("inf"), "on": float("inf")}
    runs = {"bare": _reader(frames, off_tap, False), "off": _reader(frames, off_tap, True),
            "on": _reader(frames, on_tap, True)}
    with tempfile.TemporaryDirectory() as tmp:
        rec = Recorder(str(Path(tmp) / "bench.jsonl.gz"), queue_size=1_000_000).start()
        on_tap.rec = rec
        for _ in range(args.repeat):
            for name, run in runs.items():
                t0 = time.perf_counter()
                run()
                best[name] = min(best[name], (time.perf_counter() - t0) / args.number * 1e9)
        queued = args.number * args.repeat
        t0 = time.perf_counter()
        on_tap.rec = None
        rec.stop(120.0)
        drain = time.perf_counter() - t0
        size = sum(Path(f).stat().st_size for f in rec.files)
    print(f"recording overhead per frame (trade frames, one per read; {args.number} x best of {args.repeat})")
    print(f"  bare  {best['bare']:8.0f} ns   reader work, no hook")
    print(f"  off   {best['off']:8.0f} ns   hook, not recording     off/bare {best['off'] / best['bare']:.3f}")
    print(f"  on    {best['on']:8.0f} ns   recording               on/bare  {best['on'] / best['bare']:.3f}")
    per_line = size / max(1, rec.lines)
    print(f"  writer: {rec.lines} lines ({queued} frames queued), {rec.dropped} dropped, {per_line:.1f} "
          f"compressed bytes/line, drained {drain:.2f} s after the last round")


if __name__ == "__main__":
    main()
