"""Make-before-break rollover against FakeBinance: on serverShutdown, on the fake's maximum
lifetime, and on the configured max_lifetime, while trades are published continuously, no trade
id is lost and none is doubled."""

from __future__ import annotations

import threading
from typing import Any, List

import pytest
from _connector_helpers import FakeBinance, Recorder, fast_builder, stream_conns, wait_live, wait_until

import binance_conn as bc

pytestmark = pytest.mark.usefixtures("no_conn_threads")


class Publisher:
    """Publishes BTCUSDT trades (and ETHUSDT book tickers) back to back on a thread."""

    def __init__(self, fake: FakeBinance) -> None:
        self.fake = fake
        self.ids: List[int] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="test-publisher")

    def _run(self) -> None:
        i = 0
        while not self.stop_event.wait(0.002):
            self.ids.append(self.fake.publish_trade("BTCUSDT", "100", "1"))
            i += 1
            if i % 5 == 0:
                self.fake.publish_book_ticker("ETHUSDT", bid=str(1900 + i % 7), ask="2100")

    def __enter__(self) -> "Publisher":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop_event.set()
        self.thread.join(5)


def run_rollover(fake: FakeBinance, started: List[bc.Connector], cfg: bc.Config, trigger: Any,
                 rollovers: int = 1) -> None:
    c = bc.Connector(cfg)
    started.append(c)
    trades = Recorder()
    books = Recorder()
    c.on_trade("BTCUSDT", trades, buffer=100_000)
    c.on_book_ticker("ETHUSDT", books, buffer=100_000)
    c.start()
    wait_live(c, fake)
    with Publisher(fake) as pub:
        assert wait_until(lambda: len(pub.ids) >= 20, 3)
        trigger()
        assert wait_until(lambda: c.stats()["market"]["rollovers"] >= rollovers
                          and len([r for r in stream_conns(fake) if r["closed_at"] is not None]) >= rollovers
                          and c.is_connected(), 10), (c.stats()["market"], stream_conns(fake))
        n = len(pub.ids)
        assert wait_until(lambda: len(pub.ids) >= n + 50, 3)  # keep publishing on the new link
    last = pub.ids[-1]
    assert trades.wait_for(lambda items: items and items[-1].trade_id == last), (len(trades), len(pub.ids))
    got = [e.trade_id for e in trades.snapshot()]
    dups = sorted({i for i in got if got.count(i) > 1})
    assert not dups, f"duplicate trade ids delivered: {dups[:10]} of {len(got)}; {c.stats()['market']['connections']}"
    assert set(got) == set(pub.ids), f"lost {sorted(set(pub.ids) - set(got))[:10]}"
    print("out of order across the switch:", sum(1 for a, b in zip(got, got[1:]) if b < a))
    ups = [e.update_id for e in books.snapshot()]
    assert len(ups) == len(set(ups)), "duplicate book tickers delivered"
    m = c.stats()["market"]
    assert m["reconnects"] == 0, m  # a rollover is not a loss
    print("duplicates dropped:", c.stats()["market"]["connections"][0]["duplicates_dropped"])
    assert fake.rate_violations == 0


def test_rollover_on_server_shutdown_loses_and_doubles_nothing(fake: FakeBinance,
                                                              started: List[bc.Connector]) -> None:
    run_rollover(fake, started, fast_builder(fake).build(), lambda: fake.send_server_shutdown())


def test_rollover_before_the_fakes_max_lifetime(fake: FakeBinance, started: List[bc.Connector]) -> None:
    fake.shutdown_notice = 0.5
    run_rollover(fake, started, fast_builder(fake).build(), lambda: fake.set_max_lifetime(1.5))


def test_rollover_on_configured_max_lifetime_repeats(fake: FakeBinance, started: List[bc.Connector]) -> None:
    run_rollover(fake, started, fast_builder(fake, max_lifetime=0.7).build(), lambda: None, rollovers=3)


def test_connection_events_quiet_during_rollover(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = bc.Connector(fast_builder(fake).with_debounce(0.0).build())
    started.append(c)
    events = Recorder()
    c.on_connection(events)
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert events.wait_count(1)
    fake.send_server_shutdown()
    assert wait_until(lambda: c.stats()["market"]["rollovers"] == 1
                      and any(r["closed_at"] for r in stream_conns(fake)), 8), (c.stats()["market"], stream_conns(fake))
    assert not events.wait_for(lambda items: len(items) > 1, 0.5), events.states()
    assert c.is_connected()
