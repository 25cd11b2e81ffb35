"""with_redundancy(2) against FakeBinance: one link failing (drop, close, freeze, refused reconnects,
serverShutdown, max lifetime) while trades are published loses nothing, doubles nothing, and keeps order,
without any REST backfill."""

from __future__ import annotations

import threading
from typing import Any, Callable, List

import pytest
from _connector_helpers import FakeBinance, Recorder, fast_builder, open_stream_conns, wait_live, wait_until

import binance_conn as bc

pytestmark = pytest.mark.usefixtures("no_conn_threads")


class Publisher:
    """Publishes BTCUSDT trades back to back on a thread (~500/s)."""

    def __init__(self, fake: FakeBinance, per_tick: int = 1) -> None:
        self.fake = fake
        self.per_tick = per_tick
        self.ids: List[int] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="test-publisher")

    def _run(self) -> None:
        while not self.stop_event.wait(0.002):
            for _ in range(self.per_tick):
                self.ids.append(self.fake.publish_trade("BTCUSDT", "100", "1"))

    def __enter__(self) -> "Publisher":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop_event.set()
        self.thread.join(5)


def one_stream_session(fake: FakeBinance) -> Any:
    sessions = fake._open_sessions(kind="stream")  # the fake's per-connection handle (test-only access)
    assert len(sessions) == 2, sessions
    return sessions[0]


def run_fault(fake: FakeBinance, started: List[bc.Connector], fault: Callable[[], None], *,
              builder: Any = None, settle: Callable[[bc.Connector], bool] = lambda c: True) -> bc.Connector:
    c = bc.Connector((builder or fast_builder(fake)).with_redundancy(2).build())
    started.append(c)
    trades = Recorder()
    gaps = Recorder()
    c.on_gap(gaps)
    c.on_trade("BTCUSDT", trades, buffer=100_000)
    c.start()
    wait_live(c, fake)
    assert wait_until(lambda: len(open_stream_conns(fake)) == 2
                      and c.stats()["market"]["connections"][0]["links_up"] == 2, 5), c.stats()["market"]
    with Publisher(fake) as pub:
        assert wait_until(lambda: len(pub.ids) >= 100, 5)
        fault()
        n = len(pub.ids)
        assert wait_until(lambda: len(pub.ids) >= n + 300, 10)
        assert wait_until(lambda: settle(c), 15), c.stats()["market"]
        n = len(pub.ids)
        assert wait_until(lambda: len(pub.ids) >= n + 100, 5)
    last = pub.ids[-1]
    assert trades.wait_for(lambda items: bool(items) and items[-1].trade_id == last), (len(trades), len(pub.ids))
    got = [e.trade_id for e in trades.snapshot()]
    assert got == pub.ids, (
        f"lost {sorted(set(pub.ids) - set(got))[:10]}, doubled {len(got) - len(set(got))}, "
        f"out of order {sum(1 for a, b in zip(got, got[1:]) if b <= a)}; {c.stats()['market']['connections']}")
    assert fake.rate_violations == 0
    assert not gaps.snapshot(), gaps.snapshot()  # one link failing leaves no hole to report
    return c


def _both_up(c: bc.Connector) -> bool:
    return c.stats()["market"]["connections"][0]["links_up"] == 2


def test_drop_one_link(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = run_fault(fake, started, lambda: one_stream_session(fake).abort("dropped by test"), settle=_both_up)
    m = c.stats()["market"]
    assert m["ready"] and m["reconnects"] == 0, m  # the shard never went down
    assert sum(x["reconnects"] for x in m["links"]) == 1


def test_close_one_link(fake: FakeBinance, started: List[bc.Connector]) -> None:
    run_fault(fake, started, lambda: one_stream_session(fake).request_close(1001, "going away",
                                                                            reason="closed by test"),
              settle=_both_up)


def test_freeze_one_link(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = run_fault(fake, started, lambda: one_stream_session(fake).frozen.set(),
                  settle=lambda c: c.stats()["market"]["zombies_replaced"] >= 1 and _both_up(c))
    assert c.stats()["market"]["reconnects"] == 0


@pytest.mark.soak  # 4 s: drop, close and freeze of one link stay in make test
def test_one_link_down_with_refused_reconnects(fake: FakeBinance, started: List[bc.Connector]) -> None:
    def fault() -> None:
        fake.refuse_handshakes(3.0)
        one_stream_session(fake).abort("dropped by test")

    c = run_fault(fake, started, fault, settle=_both_up)
    assert c.stats()["market"]["connections"][0]["failed_attempts"] >= 1  # the refused reconnects happened


def test_server_shutdown_on_both(fake: FakeBinance, started: List[bc.Connector]) -> None:
    run_fault(fake, started, lambda: fake.send_server_shutdown(),
              settle=lambda c: c.stats()["market"]["rollovers"] >= 2 and _both_up(c))


def test_max_lifetime_rollovers(fake: FakeBinance, started: List[bc.Connector]) -> None:
    run_fault(fake, started, lambda: None, builder=fast_builder(fake, max_lifetime=1.0),
              settle=lambda c: c.stats()["market"]["rollovers"] >= 4 and _both_up(c))


def test_both_links_down_reconnect_normally(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = bc.Connector(fast_builder(fake).with_redundancy(2).build())
    started.append(c)
    trades = Recorder()
    c.on_trade("BTCUSDT", trades, buffer=100_000)
    c.start()
    wait_live(c, fake)
    assert wait_until(lambda: len(open_stream_conns(fake)) == 2 and _both_up(c), 5)
    assert fake.drop_connections("/stream") == 2
    assert wait_until(lambda: c.stats()["market"]["reconnects"] >= 1 and c.is_connected() and _both_up(c), 10)
    wait_live(c, fake)
    assert wait_until(lambda: len(open_stream_conns(fake)) == 2 and _both_up(c), 5)

    def dropped() -> int:
        return int(c.stats()["market"]["connections"][0]["duplicates_dropped"])

    before = dropped()
    ids: List[int] = []
    assert wait_until(lambda: bool(ids.append(fake.publish_trade("BTCUSDT", "100", "1"))) or dropped() > before, 5)
    assert trades.wait_for(lambda items: bool(items) and items[-1].trade_id == ids[-1])
    got = [e.trade_id for e in trades.snapshot()]
    assert got[-len(ids):] == ids and len(set(got)) == len(got)  # both links deliver again, each trade once


def test_repeated_faults_alternating_links_at_2000_per_s(fake: FakeBinance, started: List[bc.Connector]) -> None:
    """Drop, close and freeze, one link at a time, again and again, at ~2,000 trades/s."""
    c = bc.Connector(fast_builder(fake).with_redundancy(2).build())
    started.append(c)
    trades = Recorder()
    c.on_trade("BTCUSDT", trades, buffer=200_000)
    c.start()
    wait_live(c, fake)
    assert wait_until(lambda: len(open_stream_conns(fake)) == 2 and _both_up(c), 5)
    faults: List[Callable[[Any], None]] = [
        lambda s: s.abort("dropped by test"),
        lambda s: s.request_close(1001, "going away", reason="closed by test"),
        lambda s: s.frozen.set(),
    ]
    with Publisher(fake, per_tick=4) as pub:
        for k in range(6):
            assert wait_until(lambda: len(open_stream_conns(fake)) == 2 and _both_up(c), 15), c.stats()["market"]
            sessions = sorted(fake._open_sessions(kind="stream"), key=lambda s: s.id)
            n = len(pub.ids)
            zombies = c.stats()["market"]["zombies_replaced"]
            faults[k % 3](sessions[k % 2])
            assert wait_until(lambda n=n: len(pub.ids) >= n + 400, 5)
            if k % 3 == 2:  # a frozen link looks up until it is judged: wait, or the next fault is a double one
                assert wait_until(lambda z=zombies: c.stats()["market"]["zombies_replaced"] > z, 15)
        assert wait_until(lambda: _both_up(c), 15)
    last = pub.ids[-1]
    assert trades.wait_for(lambda items: bool(items) and items[-1].trade_id == last, 10), (len(trades), len(pub.ids))
    got = [e.trade_id for e in trades.snapshot()]
    assert got == pub.ids, (f"lost {len(set(pub.ids) - set(got))}, doubled {len(got) - len(set(got))}, "
                            f"out of order {sum(1 for a, b in zip(got, got[1:]) if b <= a)}")
    m = c.stats()["market"]
    assert m["reconnects"] == 0 and sum(x["reconnects"] for x in m["links"]) >= 6, m
    assert fake.rate_violations == 0
