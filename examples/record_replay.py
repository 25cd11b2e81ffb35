"""Record a session, then replay it into a test: turn a production incident into a test.

    python examples/record_replay.py            # offline: records a session on the fake, replays it

In production you would only add the recording (``conn.record(path)`` or
``ConfigBuilder().with_recording(path, max_bytes=..., rotate_seconds=...)``) and keep the
files of an incident; the replay half below is then the regression test.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import binance_conn as bc  # noqa: E402
from binance_conn.testing import FakeBinance  # noqa: E402

SYM = "BTCUSDT"


class Collect:
    def __init__(self) -> None:
        self.items: List[Any] = []
        self.cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()

    def wait_count(self, n: int, timeout: float = 10.0) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: len(self.items) >= n, timeout)


def record(path: str) -> List[Any]:
    """'Production': a connector with a recording; the link drops while trades go on."""
    with FakeBinance([SYM]) as fake:
        conn = bc.Connector(fake.config_builder().with_recording(path).build())
        trades = Collect()
        conn.on_trade(SYM, trades, backfill=True)
        with conn:
            assert conn.wait_ready(10) and fake.wait_for_subscriptions([f"{SYM.lower()}@trade"], 5)
            for _ in range(10):
                fake.publish_trade(SYM, "100.0", "0.5")
            trades.wait_count(10)
            fake.refuse_handshakes(0.3)
            fake.drop_connections()  # the incident
            fake.wait_until(lambda: fake.open_connections("stream") == 0, 5)
            for _ in range(5):
                fake.publish_trade(SYM, "99.0", "0.1")  # missed live, backfilled over REST
            fake.wait_until(lambda: fake.open_connections("stream") == 1, 5)
            fake.wait_for_subscriptions([f"{SYM.lower()}@trade"], 5)
            fake.publish_trade(SYM, "101.0", "0.2")
            trades.wait_count(16)
        return trades.items


def replay(path: str) -> List[Any]:
    """The test: a fresh fake serves the recording to the code under test."""
    with FakeBinance([SYM]) as fake:
        conn = bc.Connector(fake.config_builder().build())
        trades = Collect()
        conn.on_trade(SYM, trades, backfill=True)
        session = fake.replay(path, speed=None)  # None: as fast as possible; 1.0: recorded pace
        with conn:
            assert session.wait(30), session
            trades.wait_count(16)
        return trades.items


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "incident.jsonl.gz")
        original = record(path)
        replayed = replay(path)
    same = replayed == original
    print(f"recorded {len(original)} trades ({sum(t.is_backfilled for t in original)} backfilled); "
          f"replayed {len(replayed)}: {'the same, in the same order' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
