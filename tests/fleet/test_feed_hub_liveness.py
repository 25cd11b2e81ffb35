"""A hub that dies publishes nothing: the feed reports its silence itself (session ``hub``), and a
feed whose hub was stopped is DISCONNECTED (STOPPED is the feed's own stop)."""

from __future__ import annotations

import time
import uuid
from typing import Any, List, Tuple

from _helpers import wait_until
from _hub_helpers import Rec

import binance_conn as bc
from binance_conn._redis.keys import HubKeys

S = bc.ConnectionState


def _beat(client: Any, keys: HubKeys, state: str = "CONNECTED") -> None:
    client.hset(keys.hub, mapping={"state": state, "reason": "", "heartbeat": int(time.time() * 1000),
                                   "topics": "[]"})


def _hub_events(rec: Rec) -> List[Tuple[Any, str]]:
    return [(e.state, e.reason) for e in rec.snapshot() if e.session == "hub"]


def test_a_silent_hub_is_a_hub_session_event_and_its_return_too(redis_url: str, no_leak: None) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = HubKeys(f"t{uuid.uuid4().hex[:8]}")
    feed = bc.RedisFeed(redis_url, prefix=keys.prefix, checkpoint_interval=0.05, stale_after=0.5)
    events = Rec()
    feed.on_connection(events)
    try:
        _beat(client, keys)
        feed.start()
        assert wait_until(lambda: feed.state is S.CONNECTED or bool(_beat(client, keys)), 5)
        # the hub process is killed: no event from it, its heartbeat just stops
        assert wait_until(lambda: [s for s, _ in _hub_events(events)] == [S.DISCONNECTED], 5)
        assert feed.state is S.DISCONNECTED and "no hub heartbeat" in _hub_events(events)[0][1]
        # it comes back
        assert wait_until(lambda: [s for s, _ in _hub_events(events)] == [S.DISCONNECTED, S.CONNECTED]
                          or bool(_beat(client, keys)), 5)
        assert wait_until(lambda: feed.state is S.CONNECTED or bool(_beat(client, keys)), 5)
        # a clean stop is the hub's own word: no liveness event, the feed is DISCONNECTED, not STOPPED
        _beat(client, keys, "STOPPED")
        assert wait_until(lambda: feed.state is S.DISCONNECTED, 5)
        assert not wait_until(lambda: len(_hub_events(events)) > 2, 1.0)
    finally:
        assert feed.stop(5)
        client.close()
    assert feed.state is S.STOPPED
