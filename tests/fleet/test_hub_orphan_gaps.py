"""A hub killed while a gap was OPEN never ends it: the next hub on the prefix ends it UNFILLED before
publishing anything, and its own gap ids continue above the earlier run's."""

from __future__ import annotations

import time
import uuid
from typing import Any, List

import redis
from _helpers import wait_until
from _hub_helpers import TRADE, fast_config

import binance_conn as bc
from binance_conn._core import codec
from binance_conn._io.topics import next_gap_id
from binance_conn._redis.keys import HubKeys
from binance_conn._redis.publisher import FIELD
from binance_conn.testing import FakeBinance

G = bc.GapState


def _gap(gap_id: int, state: Any, stream: str = "btcusdt@trade") -> bc.GapEvent:
    return bc.GapEvent("binance", stream, "BTCUSDT", "trade", gap_id, 10, 12, "reconnect", state,
                       int(time.time() * 1000), 0, None)


def _control_gaps(client: Any, keys: HubKeys) -> List[bc.GapEvent]:
    out = []
    for _, fields in client.xrange(keys.control, "-", "+"):
        try:
            ev = codec.loads(fields[FIELD.encode()])
        except codec.CodecError:
            continue
        if isinstance(ev, bc.GapEvent):
            out.append(ev)
    return out


def test_a_restarted_hub_ends_the_gaps_its_killed_predecessor_left_open(redis_url: str, no_leak: None) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = HubKeys(f"t{uuid.uuid4().hex[:8]}")
    # the earlier run: gap 7 opened and filled, gap 900000 opened, then the process was killed
    for ev in (_gap(7, G.OPEN), _gap(7, G.FILLED), _gap(900_000, G.OPEN, "btcusdt@aggTrade")):
        client.xadd(keys.control, {FIELD: codec.dumps(ev)})
    fake = FakeBinance(seed=3, market_rate=0).start()
    hub = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=keys.prefix, interval=0.1)
    try:
        hub.start()
        assert wait_until(lambda: len(_control_gaps(client, keys)) >= 4, 5)
        ends = _control_gaps(client, keys)[3:]
        assert [(g.gap_id, g.state, g.stream) for g in ends] == [(900_000, G.UNFILLED, "btcusdt@aggTrade")]
        assert "stopped before it ended" in (ends[0].reason or "")
        assert next_gap_id() > 900_000  # this run's gaps never reuse an earlier run's id
    finally:
        assert hub.stop(5)
    # a second restart finds every gap ended: nothing more
    hub2 = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=keys.prefix, interval=0.1)
    try:
        hub2.start()
        assert not wait_until(lambda: len(_control_gaps(client, keys)) > 4, 1.0)
    finally:
        assert hub2.stop(5)
        fake.stop()
        client.close()
