"""A hub that restarts, forks or fails, and feeds that restart: nothing goes missing silently.

* A restarted hub continues each trade / aggTrade / kline / depth stream after the newest event its
  Redis stream holds: the first live event reveals what happened while no hub ran (``cause="restart"``),
  backfilled over REST (FILLED), or UNFILLED beyond the backfill limits; Redis down at start delays the
  Binance connection until the hub has read those positions.
* A hub copied into a forked child is STOPPED there and restartable.
* The hub connector's errors reach ``feed.on_error`` as the same class (secrets masked).
* A named feed resumes the hub's control events (connections, gaps, errors) where it stopped.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from typing import Any, Callable, List, Optional

import pytest
import redis
from _helpers import scaled, wait_until
from _hub_helpers import SYM, TRADE, Rec, fail_once, fast_config, positioned, trade_ids

import binance_conn as bc
from binance_conn import errors as errors_mod
from binance_conn._core import codec
from binance_conn._io.dispatch import Dispatcher
from binance_conn._io.topics import ERROR_TOPIC
from binance_conn._market.gaps import GapMonitor
from binance_conn._redis.publisher import StreamPublisher
from binance_conn.testing import FakeBinance

_prefixes = itertools.count(1)


def _prefix() -> str:
    return f"r{os.getpid()}-{next(_prefixes)}"


def _final(gaps: Rec, cause: str = "restart") -> List[bc.GapEvent]:
    return [g for g in gaps.snapshot() if g.cause == cause and g.state is not bc.GapState.OPEN]


def _trade(i: int) -> bc.Trade:
    return bc.Trade("binance", SYM, i, Decimal("1.10"), Decimal("2"), 1, True, 1)


# ---------------------------------------------------------------------------- 1. restart continuity (units)
def _monitor(published: List[Any]) -> GapMonitor:
    dispatcher = Dispatcher(on_error=lambda e: None, on_topics_changed=lambda t, a: None, buffer=100,
                            overflow="DROP_OLDEST", error_topic=ERROR_TOPIC)

    def get(path: str, params: Any, timeout: float) -> Any:
        first, limit = int(params["fromId"]), int(params["limit"])
        return [{"id": i, "price": "1", "qty": "1", "quoteQty": "1", "time": 1, "isBuyerMaker": True,
                 "isBestMatch": True} for i in range(first, first + limit)]

    monitor = GapMonitor(dispatcher, "binance", get, lambda: False, lambda s: (0, 0, None))
    monitor.publish = published.append  # type: ignore[method-assign]
    return monitor


def _guard(monitor: GapMonitor, topic: str, callback: Callable[[Any], Any], backfill: bool) -> Any:
    """A subscribed guard (as the connector makes them); its ``deliver`` is called directly."""
    assert monitor.subscribe(topic, callback, None, backfill, None, None) is not None
    return monitor._guards[-1]


def test_seeded_trade_guard_reports_and_fills_the_restart_gap() -> None:
    gaps: List[Any] = []
    monitor = _monitor(gaps)
    got: List[Any] = []
    guard = _guard(monitor, TRADE, got.append, backfill=True)
    assert monitor.seed(TRADE, _trade(10))
    guard.deliver(_trade(10))  # the newest one Redis had: never twice
    guard.deliver(_trade(14))
    assert [e.trade_id for e in got] == [11, 12, 13, 14]
    assert [e.is_backfilled for e in got] == [True, True, True, False]
    assert [(g.state, g.cause, g.first_missing, g.last_missing, g.filled) for g in gaps] == [
        (bc.GapState.OPEN, "restart", 11, 13, 0), (bc.GapState.FILLED, "restart", 11, 13, 3)]
    guard.deliver(_trade(16))  # a later hole is not the restart's
    assert gaps[-1].cause == "server_skip" and gaps[-1].first_missing == 15


def test_seed_waits_for_the_next_guard_and_only_moves_forward() -> None:
    gaps: List[Any] = []
    monitor = _monitor(gaps)
    assert monitor.seed(TRADE, _trade(5))  # no guard yet: the next one made for the topic takes it
    got: List[Any] = []
    guard = _guard(monitor, TRADE, got.append, backfill=False)
    assert guard.tracker.last == 5
    assert monitor.wrap(TRADE, got.append, backfill=False).tracker.last is None  # taken once
    guard.seed(_trade(3))  # an older seed (this process delivered more) changes nothing
    assert guard.tracker.last == 5
    guard.deliver(_trade(7))
    assert [(g.state, g.cause, g.reason) for g in gaps][-1] == (bc.GapState.UNFILLED, "restart",
                                                               "backfill not requested")
    assert not monitor.seed("btcusdt@bookTicker", _trade(1))  # not tracked
    assert not monitor.seed(TRADE, object())  # no trade


def test_ids_below_the_seed_are_another_sequence_not_duplicates(caplog: pytest.LogCaptureFixture) -> None:
    """A Redis stream of another id sequence (testnet, another exchange) under the prefix must not make the
    guard drop every live event as a duplicate; a real duplicate after the restart is still dropped."""
    gaps: List[Any] = []
    monitor = _monitor(gaps)
    got: List[Any] = []
    guard = _guard(monitor, TRADE, got.append, backfill=True)
    guard.seed(_trade(1000))
    guard.deliver(_trade(1000))  # the seed itself: a duplicate
    guard.deliver(_trade(5))
    guard.deliver(_trade(6))
    guard.deliver(_trade(4))  # now a real duplicate
    assert [e.trade_id for e in got] == [5, 6] and not gaps and guard.duplicates == 2
    assert "below the newest one in Redis (1000)" in caplog.text
    other = _guard(monitor, "ethusdt@trade", got.append, backfill=True)
    other.seed(_trade(10))
    other.deliver(_trade(11))
    other.deliver(_trade(9))  # delivered since the seed: a duplicate
    assert got[-1].trade_id == 11 and other.duplicates == 1


def test_seeded_kline_and_depth_guards() -> None:
    gaps: List[Any] = []
    monitor = _monitor(gaps)
    minute = 60_000

    def kline(open_time: int, closed: bool) -> bc.Kline:
        k = codec.decode({"_t": "Kline", "exchange": "binance", "symbol": SYM, "interval": "1m",
                          "open_time": open_time, "close_time": open_time + minute - 1, "open": "1", "high": "1",
                          "low": "1", "close": "1", "volume": "1", "is_closed": closed})
        return k  # type: ignore[no-any-return]

    got: List[Any] = []
    guard = _guard(monitor, "btcusdt@kline_1m", got.append, backfill=False)
    guard.seed(kline(10 * minute, closed=False))  # still open in Redis: the closed one of 10 comes next
    guard.deliver(kline(10 * minute, closed=True))
    assert not gaps
    guard.deliver(kline(13 * minute, closed=True))
    assert (gaps[0].cause, gaps[0].first_missing, gaps[0].last_missing) == ("server_skip", 11 * minute,
                                                                            12 * minute)
    guard2 = _guard(monitor, "btcusdt@kline_1m", got.append, backfill=False)
    guard2.seed(kline(20 * minute, closed=True))
    guard2.deliver(kline(22 * minute, closed=True))
    assert (gaps[-1].cause, gaps[-1].first_missing, gaps[-1].last_missing) == ("restart", 21 * minute, 21 * minute)

    depth = _guard(monitor, "btcusdt@depth@100ms", got.append, backfill=False)

    def diff(first: int, final: int) -> Any:
        return codec.decode({"_t": "DepthUpdate", "exchange": "binance", "symbol": SYM, "first_update_id": first,
                             "final_update_id": final, "bids": [], "asks": []})

    assert monitor.seed("btcusdt@depth@100ms", diff(90, 100))
    depth.deliver(diff(120, 130))
    assert (gaps[-1].kind, gaps[-1].cause, gaps[-1].first_missing, gaps[-1].state) == (
        "depth", "restart", 101, bc.GapState.UNFILLED)


# ---------------------------------------------------------------------------- 1. restart continuity (end to end)
def _feed(redis_url: str, prefix: str, trades: Rec, gaps: Rec, name: Optional[str] = None) -> bc.RedisFeed:
    feed = bc.RedisFeed(redis_url, name=name, prefix=prefix, checkpoint_interval=0.05)
    feed.on_trade(SYM, trades)
    feed.on_gap(gaps)
    return feed.start()


def _run_hub_until(fake: FakeBinance, redis_url: str, prefix: str, until: Callable[[], bool]) -> None:
    hub = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=prefix, interval=0.1)
    try:
        hub.start()
        assert hub.connector.wait_ready(scaled(10))
        assert wait_until(until, 10)
    finally:
        assert hub.stop(scaled(5))


def test_a_restarted_hub_backfills_the_trades_while_none_ran(redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    trades, gaps = Rec(), Rec()
    with FakeBinance(seed=7) as fake:
        feed = _feed(redis_url, prefix, trades, gaps)
        try:
            assert wait_until(lambda: positioned(feed), 5)
            first_hub = bc.Hub(fast_config(fake), redis_url, streams=[TRADE], prefix=prefix, interval=0.1)
            first_hub.start()
            try:
                assert first_hub.connector.wait_ready(scaled(10))
                fake.start_trades(SYM, rate=400, seed=1)
                assert wait_until(lambda: len(trades) >= 40, 10)
            finally:
                assert first_hub.stop(scaled(5))
            seen = len(trades)
            generated = fake.trades_generated(SYM)
            assert wait_until(lambda: fake.trades_generated(SYM) >= generated + 100, 5)  # no hub runs
            assert len(trades) == seen
            _run_hub_until(fake, redis_url, prefix, lambda: bool(_final(gaps)) and len(trades) >= seen + 200)
            fake.stop_trades(SYM)
            ids = trade_ids(trades)
            expected = list(fake.published_trade_ids(SYM))
            assert ids == expected[:len(ids)], "every trade once, in order"
            assert len(ids) >= seen + 200
            (gap,) = _final(gaps)
            assert gap.state is bc.GapState.FILLED and gap.first_missing == expected[seen]
            assert gap.filled == gap.last_missing - gap.first_missing + 1 >= 100
            backfilled = [e.trade_id for e in trades.snapshot() if e.is_backfilled]
            assert backfilled == list(range(gap.first_missing, gap.last_missing + 1))
        finally:
            assert feed.stop(scaled(5))


def test_a_restart_beyond_the_backfill_limits_is_an_unfilled_gap(redis_url: str, no_leak: None) -> None:
    """REST history no longer has the first missing trade: the feed sees UNFILLED, and every hole in the
    ids it got is a reported gap."""
    prefix = _prefix()
    trades, gaps = Rec(), Rec()
    with FakeBinance(seed=7, trade_history=30) as fake:
        feed = _feed(redis_url, prefix, trades, gaps)
        try:
            assert wait_until(lambda: positioned(feed), 5)
            fake.start_trades(SYM, rate=400, seed=2)
            _run_hub_until(fake, redis_url, prefix, lambda: len(trades) >= 20)
            seen = len(trades)
            generated = fake.trades_generated(SYM)
            assert wait_until(lambda: fake.trades_generated(SYM) >= generated + 120, 5)  # > trade_history
            _run_hub_until(fake, redis_url, prefix, lambda: bool(_final(gaps)) and len(trades) >= seen + 20)
            fake.stop_trades(SYM)
            (gap,) = _final(gaps)
            assert gap.state is bc.GapState.UNFILLED and "REST history has no trade" in (gap.reason or "")
            ids = trade_ids(trades)
            assert ids == sorted(set(ids))
            holes = [(a + 1, b - 1) for a, b in zip(ids, ids[1:]) if b != a + 1]
            assert holes == [(gap.first_missing, gap.last_missing)]
        finally:
            assert feed.stop(scaled(5))


def test_redis_down_at_hub_start_delays_binance_until_the_seeds_are_read(private_redis: Any,
                                                                         no_leak: None) -> None:
    url = private_redis.url
    trades, gaps = Rec(), Rec()
    with FakeBinance(seed=7) as fake:
        feed = _feed(url, "p", trades, gaps)
        try:
            assert wait_until(lambda: positioned(feed), 5)
            fake.start_trades(SYM, rate=400, seed=3)
            _run_hub_until(fake, url, "p", lambda: len(trades) >= 20)
            os.kill(private_redis.proc.pid, signal.SIGSTOP)  # unreachable (time-outs), its data kept
            hub = bc.Hub(fast_config(fake), url, streams=[TRADE], prefix="p", interval=0.05)
            try:
                hub.start()
                time.sleep(0.3)  # the hub must not connect to Binance while it cannot read its positions
                assert hub.state is bc.ConnectionState.STOPPED
                os.kill(private_redis.proc.pid, signal.SIGCONT)
                assert hub.connector.wait_ready(scaled(10))
                assert wait_until(lambda: bool(_final(gaps)), 10)
            finally:
                assert hub.stop(scaled(5))
            fake.stop_trades(SYM)
            ids = trade_ids(trades)
            assert ids == list(range(ids[0], ids[0] + len(ids)))
            assert _final(gaps)[0].state is bc.GapState.FILLED
        finally:
            os.kill(private_redis.proc.pid, signal.SIGCONT)
            assert feed.stop(scaled(5))


# ---------------------------------------------------------------------------- 2. fork
_FORK_SCRIPT = r"""
import os, signal, sys, threading, time, traceback
import binance_conn as bc

rest, ws, url, prefix = sys.argv[1:5]
cfg = bc.Config.builder().with_rest_url(rest).with_ws_url(ws).with_backoff(base=0.05, max=0.5, jitter=0.0).build()
hub = bc.Hub(cfg, url, streams=["btcusdt@trade"], prefix=prefix, interval=0.1)
hub.start()

def wait(pred, timeout=10.0):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True

assert hub.connector.wait_ready(10) and wait(lambda: hub.stats()["published"] >= 20)
r, w = os.pipe()
held = [hub._lock, hub._pub._cond, hub.connector._gaps._lock]  # as if the parent's threads were inside them
for lock in held:
    lock.acquire()
pid = os.fork()
if pid != 0:
    for lock in reversed(held):
        lock.release()
if pid == 0:
    signal.alarm(15)  # a child stuck on a lock its parent's threads held dies (the test fails, nothing leaks)
    code = 0
    try:
        assert hub.state is bc.ConnectionState.STOPPED, hub.state
        assert threading.active_count() == 1, threading.enumerate()
        assert hub._control is None and not any(t.is_alive() for t in hub._pub.threads())
        assert hub.stats()["topics"] == ["btcusdt@trade"]
        os.read(r, 1)  # the parent's hub stopped: one hub per prefix
        hub.start()
        assert hub.connector.wait_ready(10), "child hub did not connect"
        published = hub.stats()["published"]
        assert wait(lambda: hub.stats()["published"] >= published + 50), "child hub did not publish"
        assert hub.stop(5)
    except BaseException:
        traceback.print_exc()
        code = 3
    os._exit(code)
published = hub.stats()["published"]
assert wait(lambda: hub.stats()["published"] >= published + 20), "parent hub stopped publishing"
assert hub.stop(5)
time.sleep(0.3)  # trades go on while no hub runs: the child's hub backfills them
os.write(w, b"x")
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_hub_is_stopped_in_the_child_and_restartable(redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    trades, gaps = Rec(), Rec()
    with FakeBinance(seed=7) as fake:
        feed = _feed(redis_url, prefix, trades, gaps)
        try:
            assert wait_until(lambda: positioned(feed), 5)
            fake.start_trades(SYM, rate=300, seed=4)
            proc = subprocess.run([sys.executable, "-c", _FORK_SCRIPT, fake.rest_url, fake.ws_url, redis_url, prefix],
                                  capture_output=True, timeout=scaled(30))
            assert proc.returncode == 0, proc.stderr.decode()
            assert b"Traceback" not in proc.stderr
            fake.stop_trades(SYM)
            assert wait_until(lambda: bool(_final(gaps)), 5)
            ids = trade_ids(trades)  # from the first trade the first hub saw to the last the child's hub published
            assert ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) >= 90, "every trade once, in order"
            assert _final(gaps)[0].state is bc.GapState.FILLED
        finally:
            assert feed.stop(scaled(5))


# ---------------------------------------------------------------------------- 3. errors
def _error_classes() -> List[type]:
    return [c for c in vars(errors_mod).values() if isinstance(c, type) and issubclass(c, bc.BinanceError)]


def _make(cls: type) -> bc.BinanceError:
    if issubclass(cls, bc.ValidationError):
        return cls("quantity", "1e9", "must be <= 9000")  # type: ignore[no-any-return]
    return cls("boom", binance_code=-1003, http_status=429, exchange="binance",  # type: ignore[no-any-return]
               request_id="r1")


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_survives_the_codec(cls: type) -> None:
    err = _make(cls)
    text = str(err)
    err.__cause__ = OSError("https://api/x?signature=deadbeef")
    raw = codec.dumps_error(err)
    back = codec.loads(raw)
    assert type(back) is cls
    assert (back.message, back.code, back.binance_code) == (err.message, err.code, err.binance_code)
    assert str(back) == text and repr(back) == repr(err)
    assert back.is_retryable() == err.is_retryable()
    assert back.details["origin"] == "hub" and back.details["cause"] == "OSError"
    assert {k: v for k, v in back.details.items() if k not in ("origin", "cause")} == err.details
    for name, value in vars(err).items():  # every attribute there (a ValidationError's value and dicts: None)
        if name == "details":
            continue
        carried = isinstance(value, (str, int, float, type(None))) and name != "value"
        assert getattr(back, name) == (value if carried else None), name
    assert b"deadbeef" not in raw


def test_error_codec_masks_secrets_and_refuses_garbage() -> None:
    err = bc.UnknownStatusError("GET https://h/api/v3/order?symbol=X&timestamp=1&signature=abc123 timed out",
                                details={"url": "redis://user:hunter2@h:6379/0", "stack": "frames"})
    raw = codec.dumps_error(err)
    assert b"abc123" not in raw and b"hunter2" not in raw and b"frames" not in raw
    back = codec.loads(raw)
    assert "signature=***" in back.message and back.details["url"] == "redis://user:***@h:6379/0"
    with pytest.raises(codec.CodecError):
        codec.loads(b'{"_t":"__error__","type":"APIError","message":3,"code":"x"}')
    assert type(codec.loads(b'{"_t":"__error__","type":"NoSuchError","message":"m","code":"x"}')) is bc.BinanceError


def test_a_rest_failure_of_the_restart_backfill_reaches_the_feed(redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    trades, gaps, errors = Rec(), Rec(), Rec()
    with FakeBinance(seed=7) as fake:
        feed = _feed(redis_url, prefix, trades, gaps)
        feed.on_error(errors)
        try:
            assert wait_until(lambda: positioned(feed), 5)
            fake.start_trades(SYM, rate=400, seed=5)
            _run_hub_until(fake, redis_url, prefix, lambda: len(trades) >= 20)
            generated = fake.trades_generated(SYM)
            assert wait_until(lambda: fake.trades_generated(SYM) >= generated + 40, 5)
            fake.fail_next(3, status=400, code=-1100, msg="Illegal characters found in parameter 'fromId'",
                           path="/api/v3/historicalTrades")
            _run_hub_until(fake, redis_url, prefix, lambda: bool(_final(gaps)) and bool(errors.snapshot()))
            fake.stop_trades(SYM)
            (gap,) = _final(gaps)
            assert gap.state is bc.GapState.UNFILLED and "ParameterError" in (gap.reason or "")
            err = errors.snapshot()[0]
            assert type(err) is bc.ParameterError and err.binance_code == -1100 and err.details["origin"] == "hub"
            assert "fromId" in err.message and err.http_status == 400
        finally:
            assert feed.stop(scaled(5))


def test_hub_connector_errors_reach_feed_on_error(redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    errors = Rec()
    with FakeBinance(seed=7) as fake:
        cfg = fast_config(fake)
        hub = bc.Hub(cfg, redis_url, streams=[TRADE], prefix=prefix, interval=0.05)
        hub._take_wanted = fail_once(hub._take_wanted, ZeroDivisionError("injected"))  # type: ignore[method-assign]
        feed = bc.RedisFeed(redis_url, prefix=prefix, checkpoint_interval=0.05)
        feed.on_error(errors)
        feed.start()
        try:
            assert wait_until(lambda: positioned(feed, "__control__") or feed.stats()["hub"] == {}, 5)
            hub.start()
            assert wait_until(lambda: any(isinstance(e, bc.InternalError) for e in errors.snapshot()), 10)
            internal = [e for e in errors.snapshot() if isinstance(e, bc.InternalError)][0]
            assert internal.details["origin"] == "hub" and internal.details["component"] == "hub control"
            assert internal.details["cause"] == "ZeroDivisionError"
            limited = bc.RateLimitError("weight used up", retry_after=2.5, binance_code=-1003, http_status=429)
            hub.connector._dispatcher.publish(ERROR_TOPIC, limited)  # as the connector reports one
            assert wait_until(lambda: any(isinstance(e, bc.RateLimitError) for e in errors.snapshot()), 5)
            got = [e for e in errors.snapshot() if isinstance(e, bc.RateLimitError)][0]
            assert (got.retry_after, got.code, got.binance_code, got.http_status) == (2.5, "rate_limited", -1003, 429)
            raw = b"".join(f[b"e"] for _, f in redis.Redis.from_url(redis_url).xrange(f"{prefix}:__control__"))
            assert fake.api_secret.encode() not in raw
        finally:
            assert feed.stop(scaled(5))
            assert hub.stop(scaled(5))


# ---------------------------------------------------------------------------- 4. control events resume
def test_a_named_feed_resumes_control_events_where_it_stopped(redis_url: str, no_leak: None) -> None:
    prefix = _prefix()
    control = f"{prefix}:__control__"
    pub = StreamPublisher(redis_url, maxlen=10_000)
    pub.start()

    def gap(i: int) -> bc.GapEvent:
        return bc.GapEvent("binance", TRADE, SYM, "trade", i, i, i, "reconnect", bc.GapState.UNFILLED, 1, 0, "x")

    def conn(reason: str) -> bc.ConnectionEvent:
        return bc.ConnectionEvent("binance", "market", bc.ConnectionState.CONNECTED, reason, 1)

    def make() -> "tuple[bc.RedisFeed, Rec, Rec, Rec]":
        gaps, conns, errs = Rec(), Rec(), Rec()
        feed = bc.RedisFeed(redis_url, name="ctl", prefix=prefix, checkpoint_interval=0.05)
        feed.on_gap(gaps)
        feed.on_connection(conns)
        feed.on_error(errs)
        return feed.start(), gaps, conns, errs

    r = redis.Redis.from_url(redis_url)
    pub.publish(control, codec.dumps(gap(0)))  # before the feed ever ran: not for it
    assert wait_until(lambda: pub.published == 1, 5)
    feed, gaps, conns, errs = make()
    try:
        assert wait_until(lambda: positioned(feed, "__control__"), 5)
        pub.publish(control, codec.dumps(gap(1)))
        pub.publish(control, codec.dumps(conn("one")))
        pub.publish(control, codec.dumps_error(bc.APIError("e1")))
        assert wait_until(lambda: len(gaps) == 1 and len(errs) == 1, 5)
        assert wait_until(lambda: any(c.session == "market" for c in conns.snapshot()), 5)
        assert feed.stop(scaled(5))
        pub.publish(control, codec.dumps(gap(2)))
        pub.publish(control, codec.dumps_error(bc.APIError("e2")))
        pub.publish(control, codec.dumps(conn("two")))
        pub.publish(control, codec.dumps(gap(3)))
        assert wait_until(lambda: pub.published == 8, 5)
        feed, gaps, conns, errs = make()
        assert wait_until(lambda: len(gaps) == 2 and len(errs) == 1, 5)
        assert wait_until(lambda: any(c.session == "market" for c in conns.snapshot()), 5)
        assert [g.gap_id for g in gaps.snapshot()] == [2, 3]
        assert [e.message for e in errs.snapshot()] == ["e2"]
        assert [c.reason for c in conns.snapshot() if c.session == "market"] == ["two"]
        assert b"__control__" not in r.smembers(f"{prefix}:__wanted__")  # never asked of the hub
        time.sleep(0.2)  # nothing more comes (no event twice)
        assert len(gaps) == 2 and len(errs) == 1
    finally:
        feed.stop(scaled(5))
        pub.stop(time.monotonic() + 5)
