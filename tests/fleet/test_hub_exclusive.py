"""One live hub per prefix, enforced through Redis (``<prefix>:__owner__``, ``_redis/owner.py``).

* A second hub on the same prefix is refused by ``start()`` while the first runs: nothing reaches a feed
  twice, no restart gap, no ``stopped`` event when the refused hub is stopped. Another prefix is fine.
* A hub that stopped cleanly frees the prefix at once; one killed without cleanup within the claim's TTL.
* A hub whose claim was lost takes it back, or, when another hub holds it, stops publishing and says so.
* The CLI prints a one-line refusal and exits 3; a forked child's hub copy leaves its parent's claim alone.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from time import monotonic as _monotonic
from typing import Iterator, List

import pytest
import redis
from _helpers import scaled, wait_until
from _hub_helpers import SYM, TRADE, Rec, fast_config, positioned, trade_ids

import binance_conn as bc
from binance_conn._core import codec
from binance_conn._redis.publisher import StreamPublisher
from binance_conn.testing import FakeBinance

_prefixes = itertools.count(1)
FOREIGN = json.dumps({"id": "x", "host": "elsewhere", "pid": 4242, "since": 1_700_000_000_000})


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7) as f:
        yield f


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def _prefix() -> str:
    return f"x{os.getpid()}-{next(_prefixes)}"


def _hub(fake: FakeBinance, url: str, prefix: str, interval: float = 0.1) -> bc.Hub:
    return bc.Hub(fast_config(fake), url, streams=[TRADE], prefix=prefix, interval=interval)


def _stream_conns(fake: FakeBinance) -> int:
    return sum(1 for c in fake.connection_log if c["kind"] != "api")


def test_second_hub_on_a_prefix_is_refused_and_nothing_doubles(fake: FakeBinance, redis_url: str,
                                                               r: "redis.Redis", no_leak: None) -> None:
    prefix = _prefix()
    first, second = _hub(fake, redis_url, prefix), _hub(fake, redis_url, prefix)
    other = _hub(fake, redis_url, _prefix())
    trades, gaps, conns = Rec(), Rec(), Rec()
    feed = bc.RedisFeed(redis_url, prefix=prefix, checkpoint_interval=0.05)
    feed.on_trade(SYM, trades)
    feed.on_gap(gaps)
    feed.on_connection(conns)
    try:
        first.start()
        assert first.connector.wait_ready(scaled(10))
        feed.start()
        assert wait_until(lambda: positioned(feed) and feed.state is bc.ConnectionState.CONNECTED, 10)
        fake.start_trades(SYM, rate=300, seed=1)
        assert wait_until(lambda: len(trades) >= 30, 10)
        hub_hash = r.hgetall(f"{prefix}:__hub__")
        links = _stream_conns(fake)

        with pytest.raises(bc.ValidationError) as info:
            second.start()
        assert info.value.field == "prefix"
        text = str(info.value)
        assert f"another hub is publishing under prefix {prefix!r}" in text and f"pid {os.getpid()}" in text
        assert second.state is bc.ConnectionState.STOPPED and not second.stats()["owner"]
        assert second.stop(scaled(5))  # stopping the refused hub writes nothing: feeds see no "stopped"
        assert r.hget(f"{prefix}:__hub__", "state") == hub_hash[b"state"]

        other.start()  # another prefix: its own hub
        assert other.connector.wait_ready(scaled(10)) and other.stats()["owner"]

        count = len(trades)
        assert wait_until(lambda: len(trades) >= count + 60, 10)
        fake.stop_trades(SYM)
        last = fake.published_trade_ids(SYM)[-1]
        assert wait_until(lambda: trade_ids(trades)[-1] == last, 10)
        ids = trade_ids(trades)
        assert ids == list(range(ids[0], ids[0] + len(ids))), "each trade once, in order"
        assert not [g for g in gaps.snapshot() if g.cause == "restart"]
        assert not [c for c in conns.snapshot() if c.session == "market" and c.reason == "stopped"]
        assert _stream_conns(fake) == links + 1  # the other prefix's hub; the refused one never connected
        assert first.stats()["owner"] and first.conflict is None
    finally:
        fake.stop_trades()
        assert feed.stop(scaled(5))
        for hub in (other, second, first):
            assert hub.stop(scaled(5))


def test_a_cleanly_stopped_hub_frees_its_prefix_at_once(fake: FakeBinance, redis_url: str,
                                                       r: "redis.Redis", no_leak: None) -> None:
    prefix = _prefix()
    first = _hub(fake, redis_url, prefix, interval=5.0)  # a TTL of 25 s: only the release frees it in time
    first.start()
    assert first.stop(scaled(5))
    assert r.get(f"{prefix}:__owner__") is None
    assert r.hget(f"{prefix}:__hub__", "state") == b"STOPPED"
    second = _hub(fake, redis_url, prefix)
    try:
        second.start()
        assert second.connector.wait_ready(scaled(10)) and second.stats()["owner"]
    finally:
        assert second.stop(scaled(5))


def test_a_lost_claim_is_taken_back_or_the_hub_stops_publishing(fake: FakeBinance, redis_url: str,
                                                                r: "redis.Redis", no_leak: None) -> None:
    prefix = _prefix()
    key = f"{prefix}:__owner__"
    hub = _hub(fake, redis_url, prefix)
    errors: Rec = Rec()
    hub.on_error(errors)
    try:
        hub.start()
        assert hub.connector.wait_ready(scaled(10))
        ours = r.get(key)
        assert ours is not None and 0 < r.pttl(key) <= 2000
        r.delete(key)  # Redis flushed: taken back at the next heartbeat
        assert wait_until(lambda: r.get(key) == ours, 5)
        assert hub.conflict is None

        fake.start_trades(SYM, rate=300, seed=2)
        assert wait_until(lambda: hub.stats()["published"] >= 20, 10)
        r.set(key, FOREIGN, px=60_000)  # another hub claimed it meanwhile
        r.hset(f"{prefix}:__hub__", "state", "FOREIGN")
        assert wait_until(lambda: hub.conflict is not None, 5)
        assert "host elsewhere, pid 4242" in (hub.conflict or "")
        assert wait_until(lambda: hub.state is bc.ConnectionState.STOPPED, 10)
        assert wait_until(lambda: any(isinstance(e, bc.ValidationError) and e.field == "prefix"
                                      for e in errors.snapshot()), 5)
        published = hub.stats()["published"]
        top = r.xrevrange(f"{prefix}:{TRADE}", count=1)
        time.sleep(0.3)  # trades go on at the fake: none may be published by the fenced hub
        assert hub.stats()["published"] == published and r.xrevrange(f"{prefix}:{TRADE}", count=1) == top
        assert hub.stop(scaled(5))
        assert r.get(key) == FOREIGN.encode() and r.hget(f"{prefix}:__hub__", "state") == b"FOREIGN"
        control = [codec.loads(f[b"e"]) for _, f in r.xrange(f"{prefix}:__control__")]
        assert not [e for e in control if isinstance(e, bc.ConnectionEvent) and e.reason == "stopped"]
    finally:
        fake.stop_trades()
        hub.stop(scaled(5))


def test_a_stop_before_the_hub_noticed_another_claim_writes_nothing(fake: FakeBinance, redis_url: str,
                                                                     r: "redis.Redis", no_leak: None) -> None:
    prefix = _prefix()
    hub = _hub(fake, redis_url, prefix, interval=5.0)  # no heartbeat before the stop
    hub.start()
    assert wait_until(lambda: r.hget(f"{prefix}:__hub__", "state") is not None, 5)
    r.set(f"{prefix}:__owner__", FOREIGN, px=60_000)
    r.hset(f"{prefix}:__hub__", "state", "FOREIGN")
    assert hub.stop(scaled(5))
    assert r.get(f"{prefix}:__owner__") == FOREIGN.encode() and r.hget(f"{prefix}:__hub__", "state") == b"FOREIGN"

    refused = _hub(fake, redis_url, prefix)
    with pytest.raises(bc.ValidationError):
        refused.start()
    r.delete(f"{prefix}:__owner__")  # the holder's claim lapsed meanwhile: a refused hub still writes nothing
    assert refused.stop(scaled(5))
    assert r.hget(f"{prefix}:__hub__", "state") == b"FOREIGN"


def test_a_fenced_publisher_queues_nothing_until_started_again(no_leak: None) -> None:
    pub = StreamPublisher("redis://127.0.0.1:1/0", maxlen=10)
    pub.publish("k", b"1")
    pub.fence()
    pub.publish("k", b"2")
    assert pub.pending == 0
    pub.start()
    pub.publish("k", b"3")
    assert pub.pending == 1
    pub.stop(_monotonic() + 0.2)


def test_redis_down_at_start_then_another_hub_holds_the_prefix(fake: FakeBinance, redis_url: str,
                                                               r: "redis.Redis", no_leak: None) -> None:
    prefix = _prefix()
    hub = _hub(fake, redis_url, prefix)
    hub._claim_at_start = lambda: False  # type: ignore[method-assign]  # as if Redis did not answer
    r.set(f"{prefix}:__owner__", FOREIGN, px=60_000)
    try:
        hub.start()  # never raises for network trouble: the control thread claims once Redis answers
        assert wait_until(lambda: hub.conflict is not None, 5)
        assert hub.state is bc.ConnectionState.STOPPED and _stream_conns(fake) == 0
    finally:
        assert hub.stop(scaled(5))
    assert r.get(f"{prefix}:__owner__") == FOREIGN.encode()


def _cli(fake: FakeBinance, url: str, prefix: str) -> "subprocess.Popen[bytes]":
    return subprocess.Popen([sys.executable, "-m", "binance_conn.hub", "--redis", url, "--prefix", prefix,
                             "--stream", TRADE, "--rest-url", fake.rest_url, "--ws-url", fake.ws_url,
                             "--log-level", "WARNING"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_cli_refuses_a_second_hub_and_a_killed_hub_frees_the_prefix_within_the_ttl(
        fake: FakeBinance, redis_url: str, r: "redis.Redis", no_leak: None) -> None:
    prefix = _prefix()
    procs: List["subprocess.Popen[bytes]"] = []
    hub = _hub(fake, redis_url, prefix)
    try:
        procs.append(_cli(fake, redis_url, prefix))
        assert wait_until(lambda: r.hget(f"{prefix}:__hub__", "state") == b"CONNECTED", 20)
        procs.append(_cli(fake, redis_url, prefix))
        out, err = procs[1].communicate(timeout=scaled(20))
        assert procs[1].returncode == 3, err.decode()
        lines = err.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("binance_conn.hub: another hub is publishing under prefix")
        assert f"pid {procs[0].pid}" in lines[0]

        procs[0].send_signal(signal.SIGKILL)  # no cleanup: its claim lapses within the TTL (2.5 s at 0.5 s)
        procs[0].communicate(timeout=scaled(10))
        killed = time.monotonic()
        while True:
            try:
                hub.start()
                break
            except bc.ValidationError:
                assert time.monotonic() - killed < 2.5 + scaled(1.0), "the claim outlived its TTL"
                time.sleep(0.05)
        assert hub.connector.wait_ready(scaled(10)) and hub.stats()["owner"]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert hub.stop(scaled(5))


def test_cli_hub_exits_3_when_another_hub_took_its_prefix(fake: FakeBinance, redis_url: str,
                                                          r: "redis.Redis", no_leak: None) -> None:
    prefix = _prefix()
    proc = _cli(fake, redis_url, prefix)
    try:
        assert wait_until(lambda: r.hget(f"{prefix}:__hub__", "state") == b"CONNECTED", 20)
        r.set(f"{prefix}:__owner__", FOREIGN, px=60_000)
        _, err = proc.communicate(timeout=scaled(15))
        assert proc.returncode == 3, err.decode()
        assert b"another hub is publishing under prefix" in err and b"Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


_FORK_SCRIPT = r"""
import os, sys
import binance_conn as bc
import redis

rest, ws, url, prefix = sys.argv[1:5]
cfg = bc.Config.builder().with_rest_url(rest).with_ws_url(ws).build()
hub = bc.Hub(cfg, url, streams=["btcusdt@trade"], prefix=prefix, interval=0.1)
hub.start()
key = prefix + ":__owner__"
r = redis.Redis.from_url(url)
ours = r.get(key)
assert ours is not None
pid = os.fork()
if pid == 0:
    code = 0
    try:
        hub.stop(2)  # the child's STOPPED copy: the parent's claim and state stay
        assert r.get(key) == ours, "the child released its parent's claim"
        try:
            hub.start()
            code = 4  # a second hub under the parent's prefix
        except bc.ValidationError:
            pass
        hub.stop(2)
    except BaseException:
        import traceback
        traceback.print_exc()
        code = 3
    os._exit(code)
_, status = os.waitpid(pid, 0)
assert r.get(key) == ours and r.hget(prefix + ":__hub__", "state") != b"STOPPED"
assert hub.stop(5) and r.get(key) is None
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_leaves_its_parents_claim_alone(fake: FakeBinance, redis_url: str, no_leak: None) -> None:
    proc = subprocess.run([sys.executable, "-c", _FORK_SCRIPT, fake.rest_url, fake.ws_url, redis_url, _prefix()],
                          capture_output=True, timeout=scaled(30))
    assert proc.returncode == 0, proc.stderr.decode()


def test_describe_names_the_holder_or_says_little(redis_url: str) -> None:
    from binance_conn._redis.owner import HubOwner

    owner = HubOwner("p:__owner__", ttl=2.5)
    assert "host elsewhere, pid 4242, since 2023-11-14 22:13:20 UTC" in owner.describe("p", FOREIGN)
    text = owner.describe("p", "not json")
    assert text.startswith("another hub is publishing under prefix 'p':") and "2.5 s" in text
