"""Hub + RedisFeed against FakeBinance and a real redis-server.

Every trade id reaches each of three consumers exactly once and in order across a hub link drop
(backfilled over REST by the hub) and a consumer stop/restart (resumed from its saved position);
feeds see the hub's connection state and gaps; a Redis kill/restart does not hang anything and
publishing resumes; failures injected into the hub's and the feed's own threads are reported and
survived; ``python -m binance_conn.hub`` runs and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from typing import Any, Iterator, List

import pytest
import redis
from _helpers import scaled, wait_until
from _hub_helpers import SYM, TRADE, Rec, fail_once, fast_config, positioned, trade_ids

import binance_conn as bc
from binance_conn._redis.publisher import StreamPublisher
from binance_conn.testing import FakeBinance

_prefixes = itertools.count(1)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=7) as f:
        yield f


def _prefix() -> str:
    return f"t{os.getpid()}-{next(_prefixes)}"


def test_three_consumers_every_trade_once_in_order(fake: FakeBinance, redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    hub = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=prefix, interval=0.1)
    recs = [Rec() for _ in range(3)]
    gaps = [Rec() for _ in range(3)]
    conns = [Rec() for _ in range(3)]

    def make_feed(i: int) -> bc.RedisFeed:
        feed = bc.RedisFeed(redis_url, name=f"c{i}", prefix=prefix, checkpoint_interval=0.05)
        feed.on_trade(SYM, recs[i])
        feed.on_gap(gaps[i])
        feed.on_connection(conns[i])
        return feed.start()

    feeds: List[bc.RedisFeed] = []
    try:
        hub.start()
        assert hub.connector.wait_ready(scaled(10))
        feeds = [make_feed(i) for i in range(3)]
        assert wait_until(lambda: all(positioned(f) and f.state is bc.ConnectionState.CONNECTED for f in feeds), 10)
        fake.start_trades(SYM, rate=400, seed=1)
        assert wait_until(lambda: all(len(r) >= 100 for r in recs), 10)

        # a hub link drop with trades published while no link can come back: backfilled by the hub
        fake.refuse_handshakes(0.3)
        fake.drop_connections()
        assert wait_until(lambda: all(any(g.state is bc.GapState.FILLED for g in gr.snapshot()) for gr in gaps), 15)
        assert all(any(c.state is bc.ConnectionState.RECONNECTING and c.session != "redis" for c in cr.snapshot())
                   for cr in conns)

        # a consumer stops while trades go on, and a new process-like feed of the same name resumes
        assert feeds[1].stop(scaled(5))
        stopped_at = len(recs[1])
        published = hub.stats()["published"]
        assert wait_until(lambda: hub.stats()["published"] >= published + 150, 10)
        assert len(recs[1]) == stopped_at
        feeds[1] = make_feed(1)

        assert wait_until(lambda: len(recs[0]) >= stopped_at + 300, 15)
        fake.stop_trades(SYM)
        expected = list(fake.published_trade_ids(SYM))
        assert wait_until(lambda: all(len(r) >= len(expected) for r in recs), 15)
        for i, rec in enumerate(recs):
            assert trade_ids(rec) == expected, f"consumer {i}"
        sample = recs[0].snapshot()[0]
        assert type(sample) is bc.Trade and type(sample.price) is Decimal and sample.symbol == SYM
        assert any(e.is_backfilled for e in recs[2].snapshot())
    finally:
        for f in feeds:
            assert f.stop(scaled(5))
        assert hub.stop(scaled(5))
    assert not any(f.threads()[0].is_alive() for f in feeds)


def test_feed_sees_hub_state_and_asks_for_streams(fake: FakeBinance, redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    hub = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=prefix, interval=0.1)
    feed = bc.RedisFeed(redis_url, prefix=prefix, checkpoint_interval=0.05)
    agg, books, errors = Rec(), Rec(), Rec()
    feed.on_error(errors)
    try:
        assert feed.state is bc.ConnectionState.STOPPED
        feed.start()
        assert wait_until(lambda: feed.state is bc.ConnectionState.DISCONNECTED, 5)  # no hub yet
        hub.start()
        assert wait_until(lambda: feed.state is bc.ConnectionState.CONNECTED, 10)
        # streams the hub does not hold: it subscribes them; a name its connector refuses comes back
        feed.on_agg_trade(SYM, agg)
        feed.on_book(SYM, books, depth=5)
        feed.on_stream("btcusdt@markPrice", lambda e: None)  # futures-only: refused by a spot hub
        assert wait_until(lambda: "btcusdt@aggTrade" in hub.topics and positioned(feed, "btcusdt@aggTrade"), 10)
        assert wait_until(lambda: any(isinstance(e, bc.ValidationError) and "markPrice" in str(e)
                                      for e in errors.snapshot()), 10)
        fake.start_trades(SYM, rate=200, seed=2)
        assert wait_until(lambda: len(agg) >= 20, 10)
        ids = [e.agg_trade_id for e in agg.snapshot()]
        assert ids == sorted(set(ids))
        assert wait_until(lambda: any(b.state is bc.BookState.SYNCED for b in books.snapshot())
                          or bool(fake.publish_depth(SYM) and False), 15)  # the book needs diffs to sync
        book = [b for b in books.snapshot() if b.state is bc.BookState.SYNCED][-1]
        assert type(book) is bc.OrderBook and len(book.bids) <= 5 and type(book.bids[0][0]) is Decimal
        fake.stop_trades()
        assert hub.stop(scaled(5))
        assert wait_until(lambda: feed.stats()["hub"].get("state") == "STOPPED", 5)  # the hub's last word
        assert feed.state is bc.ConnectionState.DISCONNECTED  # the feed runs on, waiting for a hub
    finally:
        assert feed.stop(scaled(5))
        hub.stop(scaled(5))


def test_redis_killed_and_restarted(fake: FakeBinance, private_redis: Any, no_leak: None) -> None:
    url = private_redis.url
    hub = bc.Hub(fast_config(fake), url, streams=[TRADE], prefix="p", interval=0.1)
    feed = bc.RedisFeed(url, name="k", prefix="p", checkpoint_interval=0.05)
    trades, conns = Rec(), Rec()
    feed.on_trade(SYM, trades)
    feed.on_connection(conns)
    try:
        hub.start()
        feed.start()
        assert wait_until(lambda: positioned(feed) and feed.state is bc.ConnectionState.CONNECTED, 10)
        fake.start_trades(SYM, rate=200, seed=3)
        assert wait_until(lambda: len(trades) >= 50, 10)
        private_redis.kill()
        assert wait_until(lambda: not hub.stats()["redis_connected"], 5)
        assert wait_until(lambda: feed.state is bc.ConnectionState.RECONNECTING, 5)
        during = fake.trades_generated(SYM)
        assert wait_until(lambda: fake.trades_generated(SYM) >= during + 60, 5)  # buffered by the hub
        t0 = time.monotonic()
        private_redis.start()
        assert wait_until(lambda: hub.stats()["redis_connected"] and hub.stats()["pending"] < 50, 10)
        count = len(trades)
        assert wait_until(lambda: len(trades) >= count + 100, 10), "the feed did not continue"
        assert time.monotonic() - t0 < scaled(10)
        ids = trade_ids(trades)
        assert ids == sorted(set(ids))  # in order, never twice (entries Redis lost are a reported hole)
        states = [(c.session, c.state) for c in conns.snapshot()]
        assert ("redis", bc.ConnectionState.RECONNECTING) in states
        assert ("redis", bc.ConnectionState.CONNECTED) in states
        fake.stop_trades()
        private_redis.kill()  # stopping with Redis down never hangs
        t1 = time.monotonic()
        assert feed.stop(scaled(5)) and hub.stop(scaled(5))
        assert time.monotonic() - t1 < scaled(5)
    finally:
        feed.stop(1)
        hub.stop(1)


class _FlakyClient:
    """A redis client whose pipeline raises a non-connection error once (a bug in our own code path)."""

    def __init__(self, real: Any, failures: List[int]) -> None:
        self._real = real
        self._failures = failures

    def pipeline(self, transaction: bool = True) -> Any:
        if self._failures:
            self._failures.pop()
            raise RuntimeError("injected")
        return self._real.pipeline(transaction=transaction)

    def close(self) -> None:
        self._real.close()


def test_publisher_survives_an_injected_failure(redis_url: str, no_leak: None,
                                                caplog: pytest.LogCaptureFixture) -> None:
    from binance_conn._redis.client import make_client

    errors: List[Any] = []
    failures = [1]
    pub = StreamPublisher(redis_url, maxlen=1000, on_error=errors.append,
                          client_factory=lambda url, **kw: _FlakyClient(make_client(url, **kw), failures))
    pub.start()
    try:
        for i in range(10):
            pub.publish("x:s", f"{i}".encode())
        assert wait_until(lambda: pub.published == 10, 5)
        assert pub.crashes == 1 and len(errors) == 1 and isinstance(errors[0], bc.InternalError)
        assert "hub publisher failed" in caplog.text
        entries = redis.Redis.from_url(redis_url).xrange("x:s")
        assert [e[1][b"e"] for e in entries] == [f"{i}".encode() for i in range(10)]
        numbers = [int(e[1][b"n"].split(b".")[1]) for e in entries]
        assert numbers == list(range(1, 11))
    finally:
        assert pub.stop(time.monotonic() + 5)


def test_republished_batch_is_not_duplicated(redis_url: str, no_leak: None) -> None:
    """A batch sent twice (connection broke after Redis applied it) lands once: the ids are ours."""
    pub = StreamPublisher(redis_url, maxlen=1000)
    for _ in range(5):
        pub.publish("d:s", b"x")
    batch = list(pub._buf)
    pub._send(batch)
    pub._send(batch)  # as after a broken connection
    assert (pub.published, pub.duplicates) == (5, 5)
    assert redis.Redis.from_url(redis_url).xlen("d:s") == 5
    pub.stop(time.monotonic() + 1)


def test_feed_reader_and_callbacks_fail_visibly_and_go_on(fake: FakeBinance, redis_url: str,
                                                          no_leak: None) -> None:
    prefix = _prefix()
    hub = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=prefix, interval=0.1)
    feed = bc.RedisFeed(redis_url, prefix=prefix, checkpoint_interval=0.05)
    errors = Rec()
    trades = Rec(fail_on=lambda e: e.trade_id % 50 == 0)
    feed.on_error(errors)
    feed.on_trade(SYM, trades)
    feed._reader._tick = fail_once(feed._tick, KeyError("injected"))  # type: ignore[method-assign]
    try:
        hub.start()
        feed.start()
        assert wait_until(lambda: positioned(feed), 10)
        fake.start_trades(SYM, rate=300, seed=4)
        assert wait_until(lambda: len(trades) >= 120, 10)
        errs = errors.snapshot()
        assert any(isinstance(e, bc.InternalError) for e in errs)  # the reader's own failure
        assert any(isinstance(e, bc.BinanceError) and e.code == "callback_error" for e in errs)
        ids = trade_ids(trades)
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # a raising callback loses nothing
    finally:
        fake.stop_trades()
        assert feed.stop(scaled(5))
        assert hub.stop(scaled(5))


def test_bad_arguments_name_the_field(fake: FakeBinance) -> None:
    cfg = fast_config(fake)
    cases = [(lambda: bc.Hub(cfg, "http://x"), "redis_url"), (lambda: bc.Hub(cfg, "redis://h", maxlen=0), "maxlen"),
             (lambda: bc.Hub(cfg, "redis://h", streams=["__x"]), "stream"),
             (lambda: bc.Hub(cfg, "redis://h", books=[("BTCUSDT", 0)]), "depth"),
             (lambda: bc.RedisFeed("redis://:pw@h", name="a b"), "name"),
             (lambda: bc.RedisFeed("redis://h").on_book(SYM, print, depth=0), "depth"),
             (lambda: bc.RedisFeed("redis://h").on_trade(SYM, print, nope=1), "options")]
    for make, field in cases:
        with pytest.raises(bc.ValidationError) as info:
            make()
        assert info.value.field == field  # type: ignore[attr-defined]
    with pytest.raises(bc.ValidationError) as info:
        bc.Hub(cfg, "mysql://user:secret@h")
    assert "secret" not in str(info.value)
    assert "pw" not in repr(bc.RedisFeed("redis://:pw@h"))


def test_python_m_hub_runs_and_stops_on_sigterm(fake: FakeBinance, redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    proc = subprocess.Popen([sys.executable, "-m", "binance_conn.hub", "--redis", redis_url, "--prefix", prefix,
                             "--stream", TRADE, "--rest-url", fake.rest_url, "--ws-url", fake.ws_url,
                             "--log-level", "WARNING"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    feed = bc.RedisFeed(redis_url, prefix=prefix)
    trades = Rec()
    feed.on_trade(SYM, trades)
    try:
        feed.start()
        assert wait_until(lambda: feed.state is bc.ConnectionState.CONNECTED and positioned(feed), 20)
        fake.start_trades(SYM, rate=100, seed=5)
        assert wait_until(lambda: len(trades) >= 20, 10)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=scaled(15))
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in err and b"RuntimeWarning" not in err
        assert wait_until(lambda: feed.stats()["hub"].get("state") == "STOPPED", 5)
        assert feed.state is bc.ConnectionState.DISCONNECTED
    finally:
        fake.stop_trades()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        feed.stop(scaled(5))


def _trade(i: int) -> bc.Trade:
    return bc.Trade("binance", SYM, i, Decimal("1.10"), Decimal("2"), 1, True, 1)


def test_entries_lost_between_hub_and_feed_are_a_gap(redis_url: str, no_leak: None) -> None:
    """A named feed resumes after its last event; entries Redis no longer has (trimmed, or a Redis
    restart) are reported as a GapEvent (cause "redis"); an unnamed feed starts at the newest."""
    from binance_conn._core.codec import dumps

    prefix = _prefix()
    key = f"{prefix}:{TRADE}"
    pub = StreamPublisher(redis_url, maxlen=10_000)
    pub.start()
    trades, gaps = Rec(), Rec()
    feed = bc.RedisFeed(redis_url, name="g", prefix=prefix, checkpoint_interval=0.05)
    feed.on_trade(SYM, trades)
    feed.on_gap(gaps)
    try:
        feed.start()
        assert wait_until(lambda: positioned(feed), 5)
        for i in range(1, 4):
            pub.publish(key, dumps(_trade(i)))
        assert wait_until(lambda: len(trades) == 3, 5)
        assert feed.stop(scaled(5))
        for i in range(4, 11):
            pub.publish(key, dumps(_trade(i)))
        assert wait_until(lambda: pub.published == 10, 5)
        r = redis.Redis.from_url(redis_url)
        ids = [e[0] for e in r.xrange(key)]
        assert r.xdel(key, ids[4], ids[5]) == 2  # trades 5 and 6 gone before the feed came back

        late = Rec()
        unnamed = bc.RedisFeed(redis_url, prefix=prefix).start()
        unnamed.on_trade(SYM, late)
        feed = bc.RedisFeed(redis_url, name="g", prefix=prefix, checkpoint_interval=0.05)
        feed.on_trade(SYM, trades)
        feed.on_gap(gaps)
        feed.start()
        assert wait_until(lambda: len(trades) == 8, 5)
        assert trade_ids(trades) == [1, 2, 3, 4, 7, 8, 9, 10]
        assert wait_until(lambda: len(gaps) == 1, 5)
        gap = gaps.snapshot()[0]
        assert (gap.cause, gap.state, gap.stream, gap.kind) == ("redis", bc.GapState.UNFILLED, TRADE, "trade")
        assert "2 events lost" in (gap.reason or "")
        assert wait_until(lambda: positioned(unnamed), 5)
        pub.publish(key, dumps(_trade(11)))
        assert wait_until(lambda: len(late) == 1, 5) and trade_ids(late) == [11]  # nothing older
        assert unnamed.stop(scaled(5))
    finally:
        feed.stop(scaled(5))
        pub.stop(time.monotonic() + 5)


def test_a_named_feed_resumes_at_its_slowest_subscriber(redis_url: str, no_leak: None) -> None:
    """Two subscribers of one topic: the saved position is the older mark, so the slow one loses nothing
    (the fast one gets those events again: at least once for it)."""
    from binance_conn._core.codec import dumps

    prefix = _prefix()
    key = f"{prefix}:{TRADE}"
    pub = StreamPublisher(redis_url, maxlen=10_000)
    pub.start()
    gate = threading.Event()
    fast, slow = Rec(), Rec()

    def slow_cb(e: Any) -> None:
        slow(e)
        gate.wait(10)

    feed = bc.RedisFeed(redis_url, name="s", prefix=prefix, checkpoint_interval=0.05)
    feed.on_trade(SYM, fast)
    feed.on_trade(SYM, slow_cb)
    try:
        feed.start()
        assert wait_until(lambda: positioned(feed), 5)
        for i in range(1, 6):
            pub.publish(key, dumps(_trade(i)))
        assert wait_until(lambda: len(fast) == 5 and len(slow) == 1, 5)
        feed.stop(0.3)  # the slow worker is still in its callback: its queued events are dropped
        gate.set()
        fast2, slow2 = Rec(), Rec()
        feed = bc.RedisFeed(redis_url, name="s", prefix=prefix)
        feed.on_trade(SYM, fast2)
        feed.on_trade(SYM, slow2)
        feed.start()
        # trade 1's callback had not returned when stop() saved the positions: it counts as undelivered
        assert wait_until(lambda: len(slow2) == 5, 5)
        assert trade_ids(slow2) == [1, 2, 3, 4, 5] and trade_ids(fast2) == [1, 2, 3, 4, 5]
    finally:
        gate.set()
        feed.stop(scaled(5))
        pub.stop(time.monotonic() + 5)


def test_hub_control_thread_survives_an_injected_failure(fake: FakeBinance, redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    hub = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=prefix, interval=0.05)
    errors = Rec()
    hub.on_error(errors)
    hub._take_wanted = fail_once(hub._take_wanted, ZeroDivisionError("injected"))  # type: ignore[method-assign]
    r = redis.Redis.from_url(redis_url)
    try:
        hub.start()
        assert wait_until(lambda: any(isinstance(e, bc.InternalError) for e in errors.snapshot()), 5)
        assert hub.crashes == 1
        r.sadd(f"{prefix}:__wanted__", "btcusdt@bookTicker")  # the loop goes on: it takes new topics
        assert wait_until(lambda: "btcusdt@bookTicker" in hub.topics, 5)
        beat = r.hget(f"{prefix}:__hub__", "heartbeat")
        assert wait_until(lambda: r.hget(f"{prefix}:__hub__", "heartbeat") != beat, 5)
    finally:
        assert hub.stop(scaled(5))


def test_an_unnamed_feed_restarted_in_process_resumes(redis_url: str, no_leak: None) -> None:
    from binance_conn._core.codec import dumps

    prefix = _prefix()
    key = f"{prefix}:{TRADE}"
    pub = StreamPublisher(redis_url, maxlen=10_000)
    pub.start()
    trades = Rec()
    feed = bc.RedisFeed(redis_url, prefix=prefix)
    feed.on_trade(SYM, trades)
    try:
        feed.start()
        assert wait_until(lambda: positioned(feed), 5)
        pub.publish(key, dumps(_trade(1)))
        assert wait_until(lambda: len(trades) == 1, 5)
        assert feed.stop(scaled(5))
        for i in range(2, 5):
            pub.publish(key, dumps(_trade(i)))
        assert wait_until(lambda: pub.published == 4, 5)
        feed.start()
        assert wait_until(lambda: len(trades) == 4, 5)
        assert trade_ids(trades) == [1, 2, 3, 4]
    finally:
        feed.stop(scaled(5))
        pub.stop(time.monotonic() + 5)


@pytest.mark.soak
def test_soak_link_drops_and_consumer_restarts(fake: FakeBinance, redis_url: str, no_leak: None) -> None:
    """Ten rounds of a hub link drop and a consumer restart at 1,000 trades/s: every id once, in order."""
    prefix = _prefix()
    hub = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=prefix, interval=0.1)
    recs = [Rec() for _ in range(3)]

    def make_feed(i: int) -> bc.RedisFeed:
        feed = bc.RedisFeed(redis_url, name=f"c{i}", prefix=prefix, checkpoint_interval=0.05)
        feed.on_trade(SYM, recs[i])
        return feed.start()

    feeds: List[bc.RedisFeed] = []
    try:
        hub.start()
        assert hub.connector.wait_ready(scaled(10))
        feeds = [make_feed(i) for i in range(3)]
        assert wait_until(lambda: all(positioned(f) for f in feeds), 10)
        fake.start_trades(SYM, rate=1000, seed=9)
        assert wait_until(lambda: all(len(r) >= 100 for r in recs), 10)  # the hub has seen the stream's start
        for round_no in range(10):
            i = round_no % 3
            fake.refuse_handshakes(0.2)
            fake.drop_connections()
            assert feeds[i].stop(scaled(5))
            other = recs[(i + 1) % 3]
            target = len(other) + 500
            assert wait_until(lambda other=other, target=target: len(other) >= target, 20)
            feeds[i] = make_feed(i)
        fake.stop_trades(SYM)
        expected = list(fake.published_trade_ids(SYM))
        complete = wait_until(lambda: all(len(r) >= len(expected) for r in recs), 30)
        for i, rec in enumerate(recs):
            ids = trade_ids(rec)
            missing = sorted(set(expected) - set(ids))
            assert ids == expected, (f"consumer {i}: {len(ids)} of {len(expected)}, missing {missing[:5]}.. "
                                     f"({len(missing)}), dups {len(ids) - len(set(ids))}, complete={complete}, "
                                     f"hub {hub.stats()['connector']['gaps']}")
    finally:
        for f in feeds:
            f.stop(scaled(5))
        hub.stop(scaled(5))


def test_a_feed_with_no_hub_under_its_prefix_says_so(redis_url: str, no_leak: None,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """A wrong prefix (or Redis database) would leave a feed quietly DISCONNECTED: it warns once."""
    import logging

    caplog.set_level(logging.WARNING, logger="binance_conn.feed")
    with bc.RedisFeed(redis_url, prefix="nobody-here", stale_after=0.3) as feed:
        feed.on_trade("btcusdt", lambda t: None)
        assert wait_until(lambda: any("no hub has ever published under prefix 'nobody-here'" in r.getMessage()
                                      for r in caplog.records), timeout=10)
        assert feed.state is bc.ConnectionState.DISCONNECTED
    assert sum("no hub has ever published" in r.getMessage() for r in caplog.records) == 1


def test_subscribing_while_events_flow_does_not_crash_the_reader(redis_url: str, no_leak: None) -> None:
    """Review finding: subscribe() beside a busy reader once changed a dict the reader iterated
    (a false InternalError and a reconnect). Subscribers come and go for a while: no error."""
    from binance_conn._core import codec

    prefix = "race"
    pub = StreamPublisher(redis_url, maxlen=100_000)
    pub.start()
    stop = threading.Event()

    def produce() -> None:
        for i in itertools.count(1):
            if stop.is_set():
                return
            pub.publish(f"{prefix}:btcusdt@trade", codec.dumps(
                bc.Trade("binance", "BTCUSDT", i, Decimal("1"), Decimal("1"), 0, False, 0, False)))
            if i % 50 == 0:
                stop.wait(0.001)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    errors: List[Any] = []
    feed = bc.RedisFeed(redis_url, prefix=prefix)
    feed.on_error(errors.append)
    first = Rec()
    feed.on_stream("btcusdt@trade", first)
    feed.start()
    try:
        assert wait_until(lambda: len(first.items) > 100, timeout=10)
        subs: List[Any] = []
        deadline = time.monotonic() + scaled(2.0)
        while time.monotonic() < deadline:
            subs.append(feed.on_stream("btcusdt@trade", lambda e: None))
            if len(subs) > 20:
                feed.unsubscribe(subs.pop(0))
    finally:
        stop.set()
        producer.join(5)
        feed.stop()
        pub.stop(time.monotonic() + 2)
    assert feed._reader.crashes == 0 and not errors, errors[:3]


def test_publisher_restarted_after_a_timed_out_stop_publishes_again(private_redis: Any, no_leak: None) -> None:
    """Review finding: start() after a stop() that timed out in a stalled Redis call returned at
    once (the old thread still alive), and then nothing published ever again."""
    pub = StreamPublisher(private_redis.url, maxlen=1000)
    pub.start()
    pub.publish("t:k", b"1")
    assert wait_until(lambda: pub.published == 1, timeout=5)
    assert private_redis.proc is not None
    os.kill(private_redis.proc.pid, signal.SIGSTOP)  # a stalled Redis: the next send hangs in a socket read
    try:
        pub.publish("t:k", b"2")
        assert not pub.stop(time.monotonic() + 0.2)  # timed out in the stalled call
        pub.start()
    finally:
        os.kill(private_redis.proc.pid, signal.SIGCONT)
    for i in range(3, 8):
        pub.publish("t:k", str(i).encode())
    assert wait_until(lambda: pub.pending == 0, timeout=15), pub.pending
    client = redis.Redis.from_url(private_redis.url)
    try:
        assert [f[b"e"] for _, f in client.xrange("t:k")] == [str(i).encode() for i in range(1, 8)]
    finally:
        client.close()
    assert pub.stop(time.monotonic() + 5)


def test_publisher_keeps_events_through_a_redis_out_of_memory_spell(private_redis: Any, no_leak: None) -> None:
    """Review finding: OOM / READONLY answers dropped every event (one ERROR each). They pass (memory
    freed, a failover done): the publisher buffers and retries as through an outage."""
    admin = redis.Redis.from_url(private_redis.url)
    pub = StreamPublisher(private_redis.url, maxlen=1000)
    pub.start()
    try:
        pub.publish("t:oom", b"1")
        assert wait_until(lambda: pub.published == 1, timeout=5)
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", 1)  # every write is refused with OOM
        for i in range(2, 6):
            pub.publish("t:oom", str(i).encode())
        assert wait_until(lambda: pub.outages >= 1, timeout=5)
        assert pub.published == 1 and pub.dropped == 0 and pub.pending == 4
        admin.config_set("maxmemory", 0)
        assert wait_until(lambda: pub.pending == 0, timeout=15)
        assert [f[b"e"] for _, f in admin.xrange("t:oom")] == [str(i).encode() for i in range(1, 6)]
        assert pub.dropped == 0
    finally:
        assert pub.stop(time.monotonic() + 5)
        admin.close()
