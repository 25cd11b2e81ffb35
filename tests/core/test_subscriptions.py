from __future__ import annotations

import pytest

from binance_conn._core.subscriptions import (
    SUBSCRIBE,
    UNSUBSCRIBE,
    ControlRequest,
    SessionSubscriptions,
    StreamRegistry,
)


def test_registry_refcount() -> None:
    r = StreamRegistry()
    assert r.add("a@trade") == 0
    assert r.add("a@trade") is None
    assert r.refcount("a@trade") == 2
    assert r.remove("a@trade") is None
    assert "a@trade" in r
    assert r.remove("a@trade") == 0
    assert "a@trade" not in r
    assert r.remove("a@trade") is None  # idempotent
    assert len(r) == 0


def test_registry_shards_at_capacity() -> None:
    r = StreamRegistry(max_streams_per_connection=3)
    shards = [r.add(f"s{i}@trade") for i in range(7)]
    assert shards == [0, 0, 0, 1, 1, 1, 2]
    assert r.shard_count == 3
    assert r.shard(1) == ["s3@trade", "s4@trade", "s5@trade"]
    assert r.shard(9) == []
    # a hole is refilled before a new shard is opened
    assert r.remove("s1@trade") == 0
    assert r.add("new@trade") == 0
    assert r.shard_of("new@trade") == 0
    assert all(len(r.shard(i)) <= 3 for i in range(r.shard_count))
    assert r.remove("s6@trade") == 2
    assert r.shard_count == 2
    assert len(r.streams()) == 6


def test_registry_1024_default() -> None:
    r = StreamRegistry()
    for i in range(1025):
        r.add(f"s{i}@trade")
    assert r.shard_count == 2 and len(r.shard(0)) == 1024 and len(r.shard(1)) == 1
    with pytest.raises(ValueError):
        StreamRegistry(0)


def test_batches_and_ids() -> None:
    s = SessionSubscriptions(max_params_per_message=2)
    s.add(["a", "b", "c"])
    assert not s.is_ready
    r1 = s.next_request()
    r2 = s.next_request()
    assert r1 == ControlRequest(1, SUBSCRIBE, ("a", "b"))
    assert r2 == ControlRequest(2, SUBSCRIBE, ("c",))
    assert s.next_request() is None and not s.has_work()
    assert not s.is_ready
    assert s.on_result(1) == r1
    assert not s.is_ready
    assert s.on_result(2) == r2
    assert s.is_ready
    assert s.acknowledged == {"a", "b", "c"}
    assert s.on_result(2) is None  # duplicate / unknown id
    assert s.on_result("x") is None


def test_unsubscribe_first_and_ack() -> None:
    s = SessionSubscriptions()
    s.add(["a", "b"])
    req = s.next_request()
    assert req is not None
    s.on_result(req.id)
    s.remove(["a"])
    s.add(["c"])
    u = s.next_request()
    assert u is not None and u.method == UNSUBSCRIBE and u.params == ("a",)
    sub = s.next_request()
    assert sub is not None and sub.method == SUBSCRIBE and sub.params == ("c",)
    s.on_result(u.id)
    s.on_result(sub.id)
    assert s.acknowledged == {"b", "c"} and s.is_ready


def test_add_then_remove_while_in_flight() -> None:
    s = SessionSubscriptions()
    s.add(["a"])
    req = s.next_request()
    assert req is not None
    s.remove(["a"])
    u = s.next_request()
    assert u is not None and u.method == UNSUBSCRIBE and u.params == ("a",)
    s.on_result(req.id)
    s.on_result(u.id)
    assert s.acknowledged == set() and s.is_ready


def test_error_reports_streams_and_no_retry_storm() -> None:
    s = SessionSubscriptions()
    s.add(["good", "bad"])
    req = s.next_request()
    assert req is not None
    f = s.on_error(req.id, 2, "Invalid request")
    assert f is not None and f.request.params == ("good", "bad") and f.code == 2 and f.msg == "Invalid request"
    assert s.failed == {"good", "bad"}
    assert s.next_request() is None  # not retried
    assert s.is_ready  # failed streams do not block readiness forever
    s.add(["good"])  # re-adding retries it
    again = s.next_request()
    assert again is not None and again.params == ("good",)
    assert s.on_error(999, 1, "x") is None


def test_reset_replays_everything_with_fresh_ids() -> None:
    s = SessionSubscriptions(max_params_per_message=10)
    s.add([f"s{i}" for i in range(15)])
    reqs = [s.next_request(), s.next_request()]
    for r in reqs:
        assert r is not None
        s.on_result(r.id)
    assert s.is_ready
    s.reset()
    assert not s.is_ready and s.acknowledged == set()
    replay = [s.next_request(), s.next_request()]
    assert [r.params for r in replay if r] == [tuple(f"s{i}" for i in range(10)), tuple(f"s{i}" for i in range(10, 15))]
    assert [r.id for r in replay if r] == [3, 4]
    assert s.on_result(1) is None  # stale reply from the old connection


def test_set_initial_and_set_desired() -> None:
    s = SessionSubscriptions()
    s.set_desired(["a", "b"])
    s.reset()
    s.set_initial(["a"])
    req = s.next_request()
    assert req is not None and req.params == ("b",)
    s.set_desired(["b"])
    assert s.desired == ["b"]
    u = s.next_request()
    assert u is not None and u.method == UNSUBSCRIBE and u.params == ("a",)
    with pytest.raises(ValueError):
        SessionSubscriptions(0)


# -- unsubscribe while disconnected (issue 9): never replayed on the next connection ----------------

def _drain(s: SessionSubscriptions) -> list:
    out = []
    while True:
        req = s.next_request()
        if req is None:
            return out
        out.append((req.method, req.params))
        s.on_result(req.id)


def test_unsubscribe_while_disconnected_is_not_replayed() -> None:
    s = SessionSubscriptions()
    s.add(["a@trade", "b@trade"])
    assert _drain(s) == [(SUBSCRIBE, ("a@trade", "b@trade"))]
    # the link drops; the reader has not reconnected yet when the user unsubscribes
    s.remove(["b@trade"])
    s.reset()  # the new connection, bare URL
    assert _drain(s) == [(SUBSCRIBE, ("a@trade",))]
    assert s.acknowledged == {"a@trade"} and s.is_ready


def test_unsubscribe_between_url_and_open_is_undone_on_the_new_connection() -> None:
    """The reconnect built its URL from the desired set, then the stream was removed before the
    socket opened: the URL subscribed it, so the new connection must UNSUBSCRIBE it."""
    s = SessionSubscriptions()
    s.set_desired(["a@trade", "b@trade"])
    url_streams = s.desired
    s.remove(["b@trade"])
    s.reset()
    s.set_initial(url_streams)
    assert s.has_work()
    assert _drain(s) == [(UNSUBSCRIBE, ("b@trade",))]
    assert s.acknowledged == {"a@trade"} and s.is_ready


def test_unsubscribe_while_its_subscribe_was_in_flight_on_a_dead_link() -> None:
    s = SessionSubscriptions()
    s.add(["a@trade"])
    assert _drain(s) == [(SUBSCRIBE, ("a@trade",))]
    s.add(["b@trade"])
    late = s.next_request()  # SUBSCRIBE b goes out, then the link dies before the reply
    assert late is not None and late.params == ("b@trade",)
    s.remove(["b@trade"])
    s.reset()
    assert s.on_result(late.id) is None  # a late reply of the old connection matches nothing
    assert _drain(s) == [(SUBSCRIBE, ("a@trade",))]
    assert s.acknowledged == {"a@trade"} and s.is_ready
