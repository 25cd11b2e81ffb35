"""Subscriptions against FakeBinance: live SUBSCRIBE/UNSUBSCRIBE batched and paced (50 symbols,
no 5 msg/s violation), sharding over several connections, replay after reconnect, server errors
reaching on_error with the stream name, case-insensitive symbols."""

from __future__ import annotations

from typing import Any, Iterator, List

import pytest
from _connector_helpers import (
    FakeBinance,
    Recorder,
    fast_builder,
    open_stream_conns,
    scaled,
    stream_conns,
    wait_until,
)

import binance_conn as bc

pytestmark = pytest.mark.usefixtures("no_conn_threads")

SYMBOLS = [f"C{i:02d}USDT" for i in range(50)]


@pytest.fixture
def big_fake() -> Iterator[FakeBinance]:
    with FakeBinance(symbols=SYMBOLS + ["BTCUSDT", "ETHUSDT"], seed=3) as f:
        yield f


def make(started: List[bc.Connector], cfg: bc.Config) -> bc.Connector:
    c = bc.Connector(cfg)
    started.append(c)
    return c


def test_fifty_symbols_subscribed_live_without_rate_violation(big_fake: FakeBinance,
                                                              started: List[bc.Connector]) -> None:
    fake = big_fake
    c = make(started, fast_builder(fake).build())
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    assert c.wait_ready(scaled(5))
    for sym in SYMBOLS:  # one call each, as fast as possible: must be batched and paced
        c.on_trade(sym, rec)
    c.on_book_ticker(SYMBOLS, rec)
    want = [f"{s.lower()}@trade" for s in SYMBOLS] + [f"{s.lower()}@bookTicker" for s in SYMBOLS]
    assert fake.wait_for_subscriptions(want, scaled(10))
    assert c.wait_ready(scaled(5))
    assert fake.rate_violations == 0
    assert len(stream_conns(fake)) == 1
    log = stream_conns(fake)[0]
    assert log["messages_received"] < 30, log["messages_received"]  # batched, not one per stream
    for sym in SYMBOLS:
        fake.publish_trade(sym, "10", "1")
    assert rec.wait_for(lambda items: {e.symbol for e in items} >= set(SYMBOLS))
    assert c.stats()["market"]["subscription_errors"] == 0


def test_unsubscribe_is_sent_and_idempotent(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    rec = Recorder()
    keep = c.on_trade("BTCUSDT", rec)
    drop = c.on_trade("ETHUSDT", rec)
    c.start()
    assert fake.wait_for_subscriptions(["btcusdt@trade", "ethusdt@trade"], scaled(5))
    drop()
    drop()
    assert not drop.active and keep.active
    assert fake.wait_until(lambda: fake.subscribed_streams() == ["btcusdt@trade"], scaled(3))
    fake.publish_trade("ETHUSDT", "1", "1")
    tid = fake.publish_trade("BTCUSDT", "1", "1")
    assert rec.wait_for(lambda items: items and items[-1].trade_id == tid)
    assert all(e.symbol == "BTCUSDT" for e in rec.snapshot())


def test_shared_stream_stays_until_last_subscriber_leaves(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    a, b = c.on_trade("BTCUSDT", lambda e: None), c.on_trade("btcusdt", lambda e: None)
    c.start()
    assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(5))
    a()
    assert not fake.wait_until(lambda: fake.subscribed_streams() == [], scaled(0.5))
    b()
    assert fake.wait_until(lambda: fake.subscribed_streams() == [], scaled(3))


def test_streams_shard_over_several_connections(big_fake: FakeBinance, started: List[bc.Connector]) -> None:
    fake = big_fake
    c = make(started, fast_builder(fake, max_streams_per_connection=10).build())
    rec = Recorder()
    c.on_trade(SYMBOLS[:25], rec)
    c.start()
    assert c.wait_ready(scaled(5))
    want = {f"{s.lower()}@trade" for s in SYMBOLS[:25]}
    assert fake.wait_for_subscriptions(want, scaled(5))
    opened = open_stream_conns(fake)
    assert len(opened) == 3
    assert all(len(r["streams"]) <= 10 for r in opened)
    assert set().union(*(set(r["streams"]) for r in opened)) == want
    assert len(c.stats()["market"]["connections"]) == 3
    # live additions go to a shard with room (or a new one), never past the cap
    c.on_trade(SYMBOLS[25:32], rec)
    want |= {f"{s.lower()}@trade" for s in SYMBOLS[25:32]}
    assert fake.wait_for_subscriptions(want, scaled(5))
    assert c.wait_ready(scaled(5))
    assert all(len(set(r["streams"])) <= 10 for r in open_stream_conns(fake))
    # every shard reconnects with its own streams
    shards = len(c.stats()["market"]["connections"])
    assert shards == 4
    before = {r["id"] for r in stream_conns(fake)}
    assert fake.drop_connections() == shards
    assert wait_until(lambda: all(x["reconnects"] >= 1 and x["ready"] for x in c.stats()["market"]["connections"]), 5)
    assert wait_until(lambda: len([r for r in open_stream_conns(fake) if r["id"] not in before]) == shards, 3)
    assert fake.wait_until(lambda: fake.open_connections() == shards, scaled(3))
    assert fake.wait_for_subscriptions(want, scaled(5))
    for sym in SYMBOLS[:32]:
        fake.publish_trade(sym, "10", "1")
    assert rec.wait_for(lambda items: {e.symbol for e in items} == set(SYMBOLS[:32]))
    assert fake.rate_violations == 0


def test_live_subscription_error_reaches_on_error_with_stream_name(fake: FakeBinance,
                                                                   started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    errors = Recorder()
    c.on_error(errors)
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    assert c.wait_ready(scaled(5))
    c.on_trade("NOPEUSDT", lambda e: None)
    assert errors.wait_count(1)
    err = errors.snapshot()[0]
    assert isinstance(err, bc.BinanceError)
    assert "nopeusdt@trade" in str(err)
    assert "nopeusdt@trade" in err.details.get("streams", [])
    assert c.stats()["market"]["subscription_errors"] == 1
    # the connection and the good stream are unaffected, ready again (failed stream does not block it)
    assert c.wait_ready(scaled(3))
    tid = fake.publish_trade("BTCUSDT", "1", "1")
    assert rec.wait_for(lambda items: items and items[-1].trade_id == tid)
    assert len(stream_conns(fake)) == 1


def test_subscription_error_without_on_error_is_logged(fake: FakeBinance, started: List[bc.Connector],
                                                       caplog: Any) -> None:
    c = make(started, fast_builder(fake).build())
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert c.wait_ready(scaled(5))
    with caplog.at_level("WARNING", logger="binance_conn"):
        c.on_trade("NOPEUSDT", lambda e: None)
        assert wait_until(lambda: any("nopeusdt@trade" in r.getMessage() for r in caplog.records), 3)


def test_bad_stream_before_start_does_not_block_the_good_ones(fake: FakeBinance,
                                                              started: List[bc.Connector]) -> None:
    """An unknown symbol subscribed before start() must be reported, not wedge the connection."""
    c = make(started, fast_builder(fake).build())
    errors = Recorder()
    c.on_error(errors)
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.on_trade("NOPEUSDT", lambda e: None)
    c.start()
    assert errors.wait_for(lambda items: any("nopeusdt@trade" in str(e) for e in items), 5), errors.snapshot()
    assert c.wait_ready(scaled(5))
    assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(3))
    tid = fake.publish_trade("BTCUSDT", "1", "1")
    assert rec.wait_for(lambda items: items and items[-1].trade_id == tid)


def test_symbols_are_case_insensitive(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    rec = Recorder()
    c.on_trade("btcUSDT", rec)
    c.on_kline("BtcUsdt", "1m", rec)
    c.start()
    assert fake.wait_for_subscriptions(["btcusdt@trade", "btcusdt@kline_1m"], scaled(5))
    fake.publish_trade("BTCUSDT", "100", "1")
    assert rec.wait_for(lambda items: {type(e).__name__ for e in items} == {"Trade", "Kline"})


def test_one_bad_stream_in_a_live_batch_fails_alone(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    errors = Recorder()
    c.on_error(errors)
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    assert c.wait_ready(scaled(5))
    c.on_trade(["ETHUSDT", "NOPEUSDT", "BNBUSDT"], rec)  # one batch on the wire
    assert errors.wait_count(1)
    assert fake.wait_for_subscriptions(["btcusdt@trade", "ethusdt@trade", "bnbusdt@trade"], scaled(5))
    assert not errors.wait_for(lambda items: len(items) > 1, 0.5)
    err = errors.snapshot()[0]
    assert err.details["streams"] == ["nopeusdt@trade"], err.details
    tid = fake.publish_trade("ETHUSDT", "1", "1")
    assert rec.wait_for(lambda items: items and items[-1].trade_id == tid)
    assert fake.rate_violations == 0


def test_last_stream_removed_closes_the_socket_and_a_new_one_reopens(fake: FakeBinance,
                                                                     started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    h = c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert c.wait_ready(scaled(5))
    h()
    assert fake.wait_until(lambda: fake.open_connections() == 0, scaled(3))
    assert c.wait_ready(scaled(2)) and c.is_connected()  # REST reachable, no stream wanted
    rec = Recorder()
    c.on_trade("ETHUSDT", rec)
    assert fake.wait_for_subscriptions(["ethusdt@trade"], scaled(3))
    assert c.wait_ready(scaled(3))
    tid = fake.publish_trade("ETHUSDT", "1", "1")
    assert rec.wait_for(lambda items: [e.trade_id for e in items] == [tid])
    assert c.stats()["market"]["reconnects"] == 0


def test_streams_added_during_an_outage_are_subscribed_on_reconnect(fake: FakeBinance,
                                                                    started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    assert c.wait_ready(scaled(5))
    fake.refuse_handshakes(0.5)
    fake.drop_connections()
    assert wait_until(lambda: not c.ready.is_set(), 2)
    c.on_trade("ETHUSDT", rec)
    c.on_book_ticker("BTCUSDT", rec)
    assert c.wait_ready(scaled(5))
    assert fake.wait_for_subscriptions(["btcusdt@trade", "ethusdt@trade", "btcusdt@bookTicker"], scaled(3))
    tid = fake.publish_trade("ETHUSDT", "1", "1")
    assert rec.wait_for(lambda items: any(getattr(e, "trade_id", None) == tid for e in items))


def test_subscribe_while_stopped_then_start(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert c.wait_ready(scaled(5))
    c.stop()
    rec = Recorder()
    c.on_trade("ETHUSDT", rec)
    gone = c.on_trade("BNBUSDT", rec)
    gone()
    c.start()
    assert c.wait_ready(scaled(5))
    assert fake.wait_for_subscriptions(["btcusdt@trade", "ethusdt@trade"], scaled(3))
    assert "bnbusdt@trade" not in fake.subscribed_streams()
    tid = fake.publish_trade("ETHUSDT", "1", "1")
    assert rec.wait_for(lambda items: [e.trade_id for e in items] == [tid])


def test_subscribe_during_a_rollover(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    rec = Recorder()
    c.on_trade("BTCUSDT", rec)
    c.start()
    assert c.wait_ready(scaled(5))
    fake.send_server_shutdown()
    c.on_trade("ETHUSDT", rec)
    assert wait_until(lambda: c.stats()["market"]["rollovers"] == 1 and c.is_connected()
                      and not c.stats()["market"]["connections"][0]["rollover_in_progress"], 5)
    assert fake.wait_until(lambda: fake.open_connections() == 1, scaled(5))
    assert fake.wait_for_subscriptions(["btcusdt@trade", "ethusdt@trade"], scaled(3))
    tid = fake.publish_trade("ETHUSDT", "1", "1")
    assert rec.wait_for(lambda items: [e.trade_id for e in items] == [tid])


def test_live_subscribe_is_not_a_disconnect(big_fake: FakeBinance, started: List[bc.Connector]) -> None:
    fake = big_fake
    c = make(started, fast_builder(fake, max_streams_per_connection=10).with_debounce(0.0).build())
    events = Recorder()
    c.on_connection(events)
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert events.wait_count(1)
    c.on_trade(SYMBOLS[:15], lambda e: None)  # fills shard 0 and opens shard 1
    want = [f"{s.lower()}@trade" for s in SYMBOLS[:15]]
    assert fake.wait_for_subscriptions(want, scaled(5))
    assert c.wait_ready(scaled(3))
    assert not events.wait_for(lambda items: len(items) > 1, 0.3), [(e.state, e.reason) for e in events.snapshot()]
    m = c.stats()["market"]
    assert m["reconnects"] == 0, m


def test_pings_and_subscriptions_share_the_send_budget(big_fake: FakeBinance, started: List[bc.Connector]) -> None:
    """An absurd ping interval plus a subscription burst still stays under 5 msg/s."""
    fake = big_fake
    c = make(started, fast_builder(fake, ping_interval=0.05, pong_timeout=0.5).build())
    c.on_trade("BTCUSDT", lambda e: None)
    c.start()
    assert c.wait_ready(scaled(5))
    assert wait_until(lambda: c.stats()["market"]["connections"][0]["pings_sent"] >= 4, 3)
    for sym in SYMBOLS:
        c.on_agg_trade(sym, lambda e: None)
    assert fake.wait_for_subscriptions([f"{s.lower()}@aggTrade" for s in SYMBOLS], scaled(10))
    first = c.stats()["market"]["connections"][0]["pings_sent"]
    assert wait_until(lambda: c.stats()["market"]["connections"][0]["pings_sent"] >= first + 6, 4)
    assert fake.rate_violations == 0
    assert len(stream_conns(fake)) == 1


def test_four_hundred_streams_url_and_subscribe_replayed_after_a_drop(big_fake: FakeBinance,
                                                                      started: List[bc.Connector]) -> None:
    fake = big_fake
    c = make(started, fast_builder(fake).build())
    noop = lambda e: None  # noqa: E731
    c.on_trade(SYMBOLS, noop)
    c.on_agg_trade(SYMBOLS, noop)
    c.on_ticker(SYMBOLS, noop)
    c.on_mini_ticker(SYMBOLS, noop)
    c.on_book_ticker(SYMBOLS, noop)
    c.on_depth(SYMBOLS, noop)
    c.on_kline(SYMBOLS, "1m", noop)
    c.on_kline(SYMBOLS, "5m", noop)
    want = set(c.stats()["streams"])
    assert len(want) == 400
    c.start()
    assert c.wait_ready(scaled(10))
    assert fake.wait_for_subscriptions(want, scaled(5))
    assert len(open_stream_conns(fake)) == 1
    first = open_stream_conns(fake)[0]
    assert len(first["path"]) < 4200 and first["messages_received"] >= 1  # the rest went by SUBSCRIBE
    fake.drop_connections()
    assert wait_until(lambda: c.stats()["market"]["reconnects"] == 1 and c.ready.is_set(), 10)
    assert fake.wait_for_subscriptions(want, scaled(5))
    assert fake.rate_violations == 0


def test_unsubscribe_while_disconnected_is_not_replayed(fake: FakeBinance, started: List[bc.Connector]) -> None:
    c = make(started, fast_builder(fake).build())
    c.on_trade("BTCUSDT", lambda e: None)
    gone = c.on_trade("ETHUSDT", lambda e: None)
    c.start()
    assert fake.wait_for_subscriptions(["btcusdt@trade", "ethusdt@trade"], scaled(5))
    fake.refuse_handshakes(0.5)
    fake.drop_connections()
    assert wait_until(lambda: not c.ready.is_set(), 2)
    gone()
    assert c.wait_ready(scaled(5))
    assert fake.wait_for_subscriptions(["btcusdt@trade"], scaled(3))
    assert fake.subscribed_streams() == ["btcusdt@trade"]
    assert "ethusdt@trade" not in open_stream_conns(fake)[0]["streams"]
