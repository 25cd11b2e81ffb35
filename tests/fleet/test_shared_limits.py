"""with_shared_limits: the Redis scripts, the fallback and the REST client, against a real redis-server.

Two limiters built on two :class:`RedisLink` objects stand for two processes (separate
connections and outage states, one Redis); the eight-process run is in
test_shared_limits_processes.py.  Window tests pass made-up server times: the keys are
window indexes, so no test waits for a real minute to roll.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import redis
from _helpers import scaled, wait_until

from binance_conn import Config, Connector
from binance_conn._core.pacing import ConnectionBudget
from binance_conn._redis.limits import (
    SharedConnectionBudget,
    SharedOrderCounter,
    SharedWindows,
    connection_budget,
    key_prefix,
    order_counter,
)
from binance_conn._redis.link import RedisLink, op_timeout
from binance_conn._rest.shared import SHARED_REGISTRY, SharedHostLimiter
from binance_conn.errors import IPBannedError, RateLimitError
from binance_conn.rest import RestClient
from binance_conn.testing import FakeBinance

HOST = "http://fleet.test"
T0 = 1_800_000_000.0  # a minute boundary (divisible by 60)


def limiter(url: str, key: str = "k", limits: Optional[Dict[str, int]] = None, timeout: float = 0.2
            ) -> SharedHostLimiter:
    """A limiter with its own link: one 'process' of the fleet."""
    link = RedisLink(url, timeout)
    return SharedHostLimiter(HOST, limits or {"1M": 100}, SharedWindows(link, key_prefix(key, HOST)), key)


def book(lim: SharedHostLimiter, weight: int, at: float, max_wait: float = 0.0,
         wait: Callable[[float], bool] = lambda s: False) -> float:
    return lim.acquire(weight, max_wait=max_wait, now=lambda: at, wait=wait)


def never(_: float) -> bool:
    raise AssertionError("must not wait")


@pytest.fixture
def r(redis_url: str) -> Iterator["redis.Redis[bytes]"]:
    client: "redis.Redis[bytes]" = redis.Redis.from_url(redis_url)
    yield client
    client.close()


# ------------------------------------------------------------------ weight windows
def test_two_processes_share_one_budget_in_aligned_windows(redis_url: str, r: Any) -> None:
    a, b = limiter(redis_url), limiter(redis_url)
    for i in range(10):
        lim = a if i % 2 else b
        lim.complete(10, book(lim, 10, T0 + 1 + i), T0 + 1.1 + i, None)
    with pytest.raises(RateLimitError) as info:
        book(a, 1, T0 + 30.0)
    assert info.value.details["client_side"] and info.value.details["shared"]
    assert info.value.retry_after == pytest.approx(30.1, abs=0.01)  # until the minute ends, plus the landing guard
    assert a.used_weight(T0 + 30) == {"1M": 100} == b.used_weight(T0 + 30)
    # the next aligned window is empty; the full one expires on its own
    book(b, 100, T0 + 60.0)
    key = f"{key_prefix('k', HOST)}:w:1M:{int(T0 // 60)}"
    assert 0 < r.pttl(key) <= 125_000
    assert a.mode == "shared" and b.mode == "shared"


def test_headers_of_a_request_sent_just_after_a_boundary_do_not_fill_the_new_window(redis_url: str) -> None:
    """With our clock a few ms ahead of Binance's, a request sent right after our boundary lands in
    Binance's old, full window: its header must not be taken for the fleet's new window."""
    a, b = limiter(redis_url), limiter(redis_url)
    a.complete(1, book(a, 1, T0 + 0.01), T0 + 0.05, {"1M": 100})
    assert b.used_weight(T0 + 0.06) == {"1M": 1}
    b.complete(5, book(b, 5, T0 + 0.5), T0 + 0.6, {"1M": 70})  # inside the window: counts
    assert a.used_weight(T0 + 0.7) == {"1M": 70}


def test_acquire_waits_for_the_window_when_max_wait_allows(redis_url: str) -> None:
    a = limiter(redis_url)
    a.complete(100, book(a, 100, T0 + 59.5), T0 + 59.6, None)
    clock = [T0 + 59.9]
    waits: List[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        clock[0] += seconds
        return False

    assert a.acquire(5, max_wait=1.0, now=lambda: clock[0], wait=wait) == pytest.approx(T0 + 60.1, abs=0.01)
    assert waits == [pytest.approx(0.2, abs=0.01)]  # to the boundary and 0.1 s past it (the landing guard)
    # the wait plus one Redis command must fit in max_wait (0.2 s here): no call overruns it
    a.complete(95, book(a, 95, T0 + 60.0), T0 + 60.1, None)
    with pytest.raises(RateLimitError):
        a.acquire(5, max_wait=0.25, now=lambda: T0 + 119.9, wait=never)


def test_complete_releases_in_flight_and_folds_headers_with_max(redis_url: str) -> None:
    a, b = limiter(redis_url), limiter(redis_url)
    at = book(a, 10, T0 + 5)
    assert b.used_weight(T0 + 5) == {"1M": 10}
    a.complete(10, at, T0 + 5.1, {"1M": 70})  # Binance saw 70: other hosts spend on this IP too
    assert b.used_weight(T0 + 6) == {"1M": 70}
    at = book(b, 20, T0 + 6)
    b.complete(20, at, T0 + 6.1, {"1M": 40})  # an older, lower figure never lowers the estimate
    assert a.used_weight(T0 + 7) == {"1M": 70}
    with pytest.raises(RateLimitError):
        book(a, 31, T0 + 7)
    book(a, 30, T0 + 7)
    # a header of a request sent in an earlier window describes that window: ignored
    at = book(b, 0, T0 + 59.99)
    b.complete(0, at, T0 + 60.01, {"1M": 99})
    assert a.used_weight(T0 + 60.02) == {"1M": 0}
    # windows Binance reports but we do not limit on are shown too
    at = book(a, 1, T0 + 61)
    a.complete(1, at, T0 + 61.01, {"1M": 5, "1S": 3})
    assert b.used_weight(T0 + 61.02) == {"1M": 5}
    assert a.used_weight(T0 + 61.02) == {"1M": 5, "1S": 3}


def test_weight_in_flight_across_a_window_boundary_counts_in_the_new_window(redis_url: str) -> None:
    a, b = limiter(redis_url), limiter(redis_url)
    at = book(a, 30, T0 + 59.99)  # sent just before the boundary: Binance may count it in the next minute
    with pytest.raises(RateLimitError) as info:
        book(b, 71, T0 + 60.0)
    assert info.value.retry_after == pytest.approx(0.02, abs=0.005)  # in flight: worth a short re-check
    book(b, 70, T0 + 60.0)
    # it ended in the new window: booked there for good
    a.complete(30, at, T0 + 60.05, None)
    assert b.used_weight(T0 + 60.1) == {"1M": 100}
    # one that ended within the landing guard of the end (our clock vs Binance's) is booked in both
    at = book(b, 10, T0 + 179.5)
    b.complete(10, at, T0 + 179.95, None)
    assert a.used_weight(T0 + 180.0) == {"1M": 10}
    at = book(b, 10, T0 + 239.0)
    b.complete(10, at, T0 + 239.5, None)  # well inside its window: not booked twice
    assert a.used_weight(T0 + 240.0) == {"1M": 0}


def test_limits_follow_set_limits_and_exchange_info(redis_url: str) -> None:
    a = limiter(redis_url, limits={"1M": 50, "10S": 10})
    book(a, 10, T0 + 1)
    with pytest.raises(RateLimitError) as info:
        book(a, 1, T0 + 2)
    assert info.value.retry_after == pytest.approx(8.1, abs=0.01)  # the 10 s window is the full one (+ guard)
    assert a.configure_from_exchange_info([{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                            "intervalNum": 1, "limit": 12}])
    book(a, 2, T0 + 2)
    with pytest.raises(RateLimitError):
        book(a, 1, T0 + 2)
    a.set_limits({"1M": 1000}, pin=True)
    assert not a.configure_from_exchange_info([{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                                "intervalNum": 1, "limit": 1}])
    assert a.limits == {"1M": 1000}


# ------------------------------------------------------------------ ban gate
def test_a_ban_seen_by_one_process_stops_the_others_at_once(redis_url: str) -> None:
    a, b, c = limiter(redis_url), limiter(redis_url), limiter(redis_url)
    a.trip(time.time(), 2.0, banned=True, message="Way too much request weight used; IP banned until 1.",
           binance_code=-1003, http_status=418)
    started = time.monotonic()
    with pytest.raises(IPBannedError) as info:
        book(b, 1, time.time(), wait=never)  # the reservation script checks the gate
    assert time.monotonic() - started < 0.1
    err = info.value
    assert err.details["fail_fast"] and err.details["shared"]
    assert err.binance_code == -1003 and err.http_status == 418
    assert 1.5 < (err.retry_after or 0) <= 2.0 and "IP banned until 1." in str(err)
    # and without a reservation (rate limiting off), within the mirror's check interval
    assert isinstance(c.gate_error(time.time()), IPBannedError)
    assert isinstance(b.gate_error(time.time()), IPBannedError)  # the mirror answers without Redis


def test_an_idle_process_reports_the_fleets_ban(redis_url: str) -> None:
    """ban_state / health() / metrics read gate_state: a process that makes no calls still shows
    the ban another process earned (review finding: it read only its own, stale mirror)."""
    a, idle = limiter(redis_url), limiter(redis_url)
    a.trip(time.time(), 30.0, banned=True, message="banned", binance_code=-1003, http_status=418)
    kind, left = idle.gate_state(time.time())
    assert kind == "ip_banned" and 25.0 < left <= 30.5
    a.clear_gate()
    assert wait_until(lambda: idle.gate_state(time.time()) == ("", 0.0), timeout=2)


def test_gate_extends_never_shortens_and_a_ban_keeps_its_text(redis_url: str, r: Any) -> None:
    a, b = limiter(redis_url), limiter(redis_url)
    now = time.time()
    a.trip(now, 5.0, banned=True, message="banned", binance_code=-1003, http_status=418)
    b.trip(now, 1.0, banned=False, message="slow down", binance_code=-1003, http_status=429)
    ttl = r.pttl(f"{key_prefix('k', HOST)}:ban")
    assert 4000 < ttl <= 5000
    c = limiter(redis_url)
    err = c.gate_error(time.time())
    assert isinstance(err, IPBannedError) and err.http_status == 418
    # a longer 429 extends the gate, and takes over as BanGate does
    b.trip(time.time(), 8.0, banned=False, message="slow down", binance_code=-1003, http_status=429)
    assert 7000 < r.pttl(f"{key_prefix('k', HOST)}:ban") <= 8000


def test_gate_opens_for_everyone_when_the_ban_ends_or_is_cleared(redis_url: str) -> None:
    a, b = limiter(redis_url), limiter(redis_url)
    a.trip(time.time(), 0.3, banned=True, message="banned", binance_code=-1003, http_status=418)
    assert b.gate_error(time.time()) is not None
    assert wait_until(lambda: b.gate_error(time.time()) is None, timeout=2.0)
    book(b, 1, time.time())
    a.trip(time.time(), 60.0, banned=False, message="slow", binance_code=-1003, http_status=429)
    assert wait_until(lambda: b.gate_error(time.time()) is not None, timeout=1.0)
    time.sleep(0.6)  # past the trip's own grace: the mirror now follows Redis
    a.clear_gate()
    assert a.gate_error(time.time()) is None
    assert wait_until(lambda: b.gate_error(time.time()) is None, timeout=1.0)


def test_no_retry_after_closes_the_gate_until_the_next_minute(redis_url: str, r: Any) -> None:
    a = limiter(redis_url)
    now = time.time()
    a.trip(now, None, banned=False, message="", binance_code=None, http_status=429)
    expected = max(1.0, (int(now // 60) + 1) * 60 - now)
    assert abs(r.pttl(f"{key_prefix('k', HOST)}:ban") / 1000.0 - expected) < 0.2
    err = limiter(redis_url).gate_error(time.time())
    assert err is not None and err.binance_code is None and err.http_status == 429


def test_keys_are_separate_per_egress_key_and_per_host(redis_url: str) -> None:
    a, other_ip = limiter(redis_url, key="ip-1"), limiter(redis_url, key="ip-2")
    a.trip(time.time(), 5.0, banned=True, message="banned", binance_code=-1003, http_status=418)
    assert other_ip.gate_error(time.time()) is None
    book(other_ip, 100, T0)
    assert key_prefix("https://api.binance.com", "https://API.binance.com") == "binance_conn:{https://api.binance.com}"
    assert key_prefix("ip-1", "https://fapi.binance.com") == "binance_conn:{ip-1}:https://fapi.binance.com"


# ------------------------------------------------------------------ connection attempts, order counts
def test_connection_budget_is_shared_and_slides(redis_url: str) -> None:
    key = "binance_conn:{k}:connections"
    a = SharedConnectionBudget(RedisLink(redis_url, 0.2), key, limit=3, window=0.5)
    b = SharedConnectionBudget(RedisLink(redis_url, 0.2), key, limit=3, window=0.5)
    assert [a.try_acquire(0.0), b.try_acquire(0.0), a.try_acquire(0.0)] == [0.0, 0.0, 0.0]
    wait = b.try_acquire(0.0)
    assert 0.3 < wait <= 0.5 and b.delay(0.0) > 0.0
    assert a.used(0.0) == 3 == b.used(0.0)
    time.sleep(wait + 0.02)
    assert b.try_acquire(0.0) == 0.0


def test_a_connection_budget_fallback_starts_from_the_fleets_count(private_redis: Any) -> None:
    """Review finding: while Redis is down each process's own log decided, and it was empty: N
    processes got N budgets. The local log now follows the fleet's count it last saw."""
    key = "binance_conn:{k}:connections"
    a = SharedConnectionBudget(RedisLink(private_redis.url, 0.2), key, limit=3, window=60.0)
    b = SharedConnectionBudget(RedisLink(private_redis.url, 0.2), key, limit=3, window=60.0)
    t = time.monotonic()
    assert [a.try_acquire(t), a.try_acquire(t), b.try_acquire(t)] == [0.0, 0.0, 0.0]  # the fleet: 3 of 3
    private_redis.kill()
    assert b.try_acquire(t + 1) > 0.0  # b saw 3: nothing more in its fallback
    assert a.try_acquire(t + 1) == 0.0 and a.try_acquire(t + 1) > 0.0  # a saw 2: one more, not three


def test_order_counts_are_shared_per_account(redis_url: str) -> None:
    key = "binance_conn:{k}:orders:acct"
    a = SharedOrderCounter(RedisLink(redis_url, 0.2), key)
    b = SharedOrderCounter(RedisLink(redis_url, 0.2), key)
    other = SharedOrderCounter(RedisLink(redis_url, 0.2), "binance_conn:{k}:orders:other")
    a.observe({"10S": 3, "1D": 40}, T0 + 1.0)
    assert b.snapshot(T0 + 2.0) == {"10S": 3, "1D": 40}
    b.observe({"10S": 2, "1D": 39}, T0 + 1.5)  # newer: an order filled meanwhile
    a.observe({"10S": 9, "1D": 90}, T0 + 1.2)  # older answer arriving late: ignored
    assert a.snapshot(T0 + 2.0) == {"10S": 2, "1D": 39}
    assert a.snapshot(T0 + 11.0) == {"10S": 0, "1D": 39}  # the 10 s window rolled
    assert other.snapshot(T0 + 2.0) == {}


def test_config_picks_shared_or_local_objects(redis_url: str) -> None:
    fake_rest = "http://127.0.0.1:9"
    local = Config.builder().with_rest_url(fake_rest).build()
    shared = Config.builder().with_rest_url(fake_rest).with_shared_limits(redis_url).build()
    assert type(connection_budget(local)) is ConnectionBudget
    budget = connection_budget(shared)
    assert isinstance(budget, SharedConnectionBudget) and budget.key == "binance_conn:{http://127.0.0.1:9}:connections"
    assert connection_budget(shared, budget) is budget  # kept across a restart: Binance counts per IP
    assert type(connection_budget(local, budget)) is ConnectionBudget
    assert isinstance(order_counter(shared), SharedOrderCounter)
    counter = order_counter(Config.builder().with_rest_url(fake_rest).with_api_key("abc").with_api_secret("s")
                            .with_shared_limits(redis_url, key="egress-1").build())
    assert isinstance(counter, SharedOrderCounter) and "abc" not in counter.key and "{egress-1}" in counter.key
    conn = Connector(shared)
    assert conn._budget.__class__ is SharedConnectionBudget
    assert conn.rest.limiter_mode == "shared" and conn.stats()["rest"]["limiter"] == "shared"
    assert Connector(local).stats()["rest"]["limiter"] == "local"
    # clients of one process share one limiter per (Redis, key, host)
    assert RestClient(shared)._limiter is RestClient(shared)._limiter
    assert op_timeout(1.0) == 0.25 and op_timeout(0.01) == 0.05


# ------------------------------------------------------------------ fallback, outage, recovery
def test_redis_down_falls_back_at_once_and_warns_once(caplog: Any) -> None:
    url = "redis://:s3cret-pw@127.0.0.1:1/0"  # nothing listens on port 1
    a = limiter(url, limits={"1M": 20})
    caplog.set_level(logging.INFO, logger="binance_conn.redis")
    started = time.monotonic()
    for _ in range(4):
        a.shared.link._retry_at = 0.0  # each call is a reconnect attempt: still one WARNING
        book(a, 5, T0 + 1)
    with pytest.raises(RateLimitError) as info:  # the local copy limits: same budget, this process alone
        book(a, 5, T0 + 1)
    assert "shared" not in info.value.details
    assert time.monotonic() - started < 0.5
    assert a.mode == "fallback" and a.used_weight(T0 + 1) == {"1M": 20}
    warnings = [rec for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    assert "redis://:***@127.0.0.1:1/0" in warnings[0].getMessage() and not warnings[0].exc_info
    assert "s3cret-pw" not in caplog.text and "s3cret-pw" not in repr(a)


def test_kill_and_restart_redis_mid_run(private_redis: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="binance_conn.redis")
    # a 2 s command timeout: on a loaded machine a 0.2 s one can fall back before the kill (a refused
    # connection after it fails at once either way)
    a = limiter(private_redis.url, limits={"1M": 1000}, timeout=2.0)
    b = limiter(private_redis.url, limits={"1M": 1000}, timeout=2.0)
    now = time.time()
    at = book(a, 10, now)
    a.complete(10, at, now, {"1M": 300})  # what Binance last said: the fallback starts from it
    assert a.mode == "shared" and b.mode == "shared"
    private_redis.kill()
    worst = 0.0
    for i in range(20):
        started = time.monotonic()
        lim = a if i % 2 else b
        at = lim.acquire(10, max_wait=1.0, now=time.time, wait=never)
        lim.complete(10, at, time.time(), None)
        assert lim.gate_error(time.time()) is None
        worst = max(worst, time.monotonic() - started)
    assert worst < 0.5 and a.mode == "fallback" and b.mode == "fallback"
    assert a.used_weight(time.time())["1M"] >= 300
    # a ban seen during the outage stops this process, and reaches the fleet after the restart
    a.trip(time.time(), 30.0, banned=True, message="banned", binance_code=-1003, http_status=418)
    assert isinstance(a.gate_error(time.time()), IPBannedError)
    private_redis.start()

    def recovered() -> bool:
        try:
            at = a.acquire(1, max_wait=0.0, now=time.time, wait=never)
            a.complete(1, at, time.time(), None)
        except IPBannedError:
            pass
        return a.mode == "shared"

    assert wait_until(recovered, timeout=5.0)
    assert isinstance(limiter(private_redis.url).gate_error(time.time()), IPBannedError)
    assert limiter(private_redis.url).used_weight(time.time())["1M"] >= 300
    text = caplog.text
    assert text.count("unusable") == 2, text  # one WARNING per link and outage
    assert "answers again" in text


def test_a_fallback_starts_from_the_fleets_last_estimate(private_redis: Any) -> None:
    a, b = limiter(private_redis.url, timeout=2.0), limiter(private_redis.url, timeout=2.0)  # as above
    now = time.time()
    b.complete(90, book(b, 90, now), now, None)  # the rest of the fleet spent 90 of 100
    a.complete(5, book(a, 5, now), now, None)  # a saw the fleet at 95 when it booked
    assert a.mode == "shared" and b.mode == "shared"
    private_redis.kill()
    with pytest.raises(RateLimitError):  # alone, a must not spend the fleet's last 5 twice over
        a.acquire(10, max_wait=0.0, now=lambda: now, wait=never)
    assert a.mode == "fallback"
    a.acquire(5, max_wait=0.0, now=lambda: now, wait=never)


def test_stalled_redis_never_holds_a_call_past_max_wait(private_redis: Any) -> None:
    a = limiter(private_redis.url, timeout=op_timeout(0.4))
    book(a, 1, time.time())
    assert private_redis.proc is not None
    private_redis.proc.send_signal(signal.SIGSTOP)
    try:
        durations = []
        for _ in range(5):
            started = time.monotonic()
            at = a.acquire(1, max_wait=0.4, now=time.time, wait=never)
            a.complete(1, at, time.time(), None)
            a.gate_error(time.time())
            durations.append(time.monotonic() - started)
        assert max(durations) < 0.4 + 0.05, durations
        assert sum(durations) < 0.3 * len(durations)  # only the first call paid the timeout
        assert a.mode == "fallback"
    finally:
        private_redis.proc.send_signal(signal.SIGCONT)


def test_calls_caught_by_an_outage_do_not_lengthen_the_reconnect_pause(private_redis: Any) -> None:
    a = limiter(private_redis.url, timeout=0.05)
    book(a, 1, time.time())
    assert private_redis.proc is not None
    private_redis.proc.send_signal(signal.SIGSTOP)
    try:
        barrier = threading.Barrier(8)

        def call() -> None:
            barrier.wait()
            book(a, 1, time.time())

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(5))
        assert a.mode == "fallback"
    finally:
        private_redis.proc.send_signal(signal.SIGCONT)
    started = time.monotonic()

    def shared() -> bool:
        book(a, 1, time.time())
        return a.mode == "shared"

    assert wait_until(shared, timeout=2.0)
    assert time.monotonic() - started < 0.3  # the first pause (<= 0.1 s), not eight failures' worth


def test_a_foreign_value_at_a_key_falls_back_instead_of_failing(redis_url: str, r: Any, caplog: Any) -> None:
    r.set(f"{key_prefix('k', HOST)}:w:1M:{int(T0 // 60)}", "not a hash")  # WRONGTYPE inside the script
    a = limiter(redis_url)
    with caplog.at_level(logging.WARNING, logger="binance_conn.redis"):
        book(a, 1, T0)
    assert a.mode == "fallback" and "WRONGTYPE" in caplog.text


# ------------------------------------------------------------------ RestClient against the fake exchange
@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(weight_limit=400, seed=3) as f:
        yield f


def _client(fake: FakeBinance, redis_url: str, key: str, **rate: Any) -> RestClient:
    builder = fake.config_builder().with_backoff(base=0.01, max=0.05, jitter=0.0).with_shared_limits(redis_url, key)
    if rate:
        builder = builder.with_rate_limit(**rate)
    return RestClient(builder.build())


def test_rest_client_threads_stay_inside_the_shared_budget(fake: FakeBinance, redis_url: str) -> None:
    client = _client(fake, redis_url, "rest-threads", max_wait=0.05, weight_limit=400)
    assert client.limiter_mode == "shared"
    other = _client(fake, redis_url, "rest-threads", max_wait=0.05, weight_limit=400)
    ok: List[int] = []
    limited: List[RateLimitError] = []
    lock = threading.Lock()

    def worker(c: RestClient) -> None:
        for _ in range(25):
            try:
                c.account()  # signed, weight 20
                with lock:
                    ok.append(1)
            except RateLimitError as exc:
                with lock:
                    limited.append(exc)

    threads = [threading.Thread(target=worker, args=(c,)) for c in (client, other) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(scaled(30))
    statuses = [rec["status"] for rec in fake.request_log]
    assert 429 not in statuses and 418 not in statuses
    assert limited and all(e.details.get("client_side") for e in limited)
    assert fake.weights.used() <= 400
    assert client.used_weight["1M"] >= fake.weights.used() - 40  # the fleet's figure, not this client's alone


def test_rest_client_418_stops_a_client_of_another_process(fake: FakeBinance, redis_url: str) -> None:
    client = _client(fake, redis_url, "rest-ban")
    client.server_time()
    # another process: its own limiter on the same Redis and key
    SHARED_REGISTRY._limiters.clear()
    other = _client(fake, redis_url, "rest-ban")
    assert other._limiter is not client._limiter
    other.server_time()
    fake.fail_next(1, status=418, code=-1003, msg="Way too much request weight used; IP banned until 1.",
                   retry_after=1, path="/api/v3/account")
    with pytest.raises(IPBannedError) as first:
        client.account()
    assert not first.value.details.get("fail_fast")
    n = len(fake.request_log)
    started = time.monotonic()
    with pytest.raises(IPBannedError) as info:
        other.account()
    assert time.monotonic() - started < 0.1 and info.value.details["shared"]
    assert len(fake.request_log) == n  # never reached the exchange
    assert wait_until(lambda: _ok(other), timeout=3.0, interval=0.05)


def _ok(client: RestClient) -> bool:
    try:
        client.server_time()
        return True
    except RateLimitError:
        return False


def test_rest_order_counts_are_shared(fake: FakeBinance, redis_url: str) -> None:
    client = _client(fake, redis_url, "rest-orders")
    SHARED_REGISTRY._limiters.clear()
    other = _client(fake, redis_url, "rest-orders")
    bid, _ask = fake.best_prices("BTCUSDT")
    client.request("POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                             "timeInForce": "GTC", "quantity": "0.001", "price": str(bid)},
                   signed=True)
    counts = other.order_count
    assert counts.get("10S") == 1 and counts.get("1D") == 1


def test_an_unexpected_failure_is_logged_with_its_traceback_and_limits_fall_back(redis_url: str, caplog: Any) -> None:
    a = limiter(redis_url)
    link = a.shared.link

    def broken(text: str) -> Any:
        raise RuntimeError("injected: a bug on the shared path")

    link._script = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="binance_conn.redis"):
        book(a, 5, T0)
        book(a, 5, T0)
    records = [rec for rec in caplog.records if rec.name == "binance_conn.redis"]
    assert len(records) == 1 and records[0].exc_info and "injected" in records[0].getMessage()
    assert a.mode == "fallback" and a.used_weight(T0) == {"1M": 10}
    del link._script  # the bug is gone: the next due attempt shares again
    link._retry_at = 0.0
    book(a, 5, T0)
    assert a.mode == "shared"


def test_connector_connection_attempts_go_through_the_shared_budget(redis_url: str, r: Any,
                                                                      no_thread_leak: None) -> None:
    with FakeBinance(seed=5) as fake:
        cfg = fake.config_builder().with_shared_limits(redis_url, key="conn-budget").build()
        conn = Connector(cfg)
        try:
            conn.on_trade("BTCUSDT", lambda event: None)
            conn.start()
            assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(5))
            key = f"{key_prefix('conn-budget', fake.rest_url.rstrip('/'))}:connections"
            assert r.zcard(key) >= 1
            assert conn._budget.used(0.0) == r.zcard(key)
            assert conn.stats()["rest"]["limiter"] == "shared"
        finally:
            conn.stop(timeout=5.0)


def test_the_core_library_works_without_redis_py() -> None:
    code = """
import sys
sys.modules["redis"] = None  # as if binance_conn[redis] was not installed
import binance_conn as bc
from binance_conn.errors import ValidationError
conn = bc.Connector(bc.Config.builder().with_rest_url("http://127.0.0.1:9").build())
assert conn.rest.limiter_mode == "local" and conn.stats()["rest"]["limiter"] == "local"
try:
    bc.Config.builder().with_shared_limits("redis://127.0.0.1:6379/0").build()
except ValidationError as exc:
    assert exc.field == "rate_limit.shared_redis_url" and "binance_conn[redis]" in str(exc), exc
else:
    raise AssertionError("no ValidationError")
assert "redis" not in {m.split(".")[0] for m, v in sys.modules.items() if v is not None}
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=scaled(60))
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_a_password_in_the_query_is_masked_too() -> None:
    """redis-py takes ``?password=``: logs, reprs and errors mask it as they mask userinfo."""
    from binance_conn._redis.client import safe_url

    assert safe_url("redis://h:1/0?password=s3cr&db=2") == "redis://h:1/0?password=***&db=2"
    assert safe_url("redis://u:pw@h/0?Password=x") == "redis://u:***@h/0?Password=***"
    assert "s3cr" not in repr(Config.builder().with_shared_limits("redis://h:1/0?password=s3cr"))
