"""FakeBinance.record_book_history / book_at: the fake's true book at every update id it reaches."""

from __future__ import annotations

from binance_conn.testing import FakeBinance


def test_book_at_every_id_including_faults() -> None:
    with FakeBinance(["BTCUSDT"], seed=1) as fake:
        assert fake.book_at("BTCUSDT", fake.book("BTCUSDT")["lastUpdateId"]) == []  # not recorded yet
        fake.record_book_history("BTCUSDT", limit=5)
        start = fake.book("BTCUSDT", 5)
        assert fake.book_at("btcusdt", start["lastUpdateId"]) == [start]
        _, u = fake.publish_depth("BTCUSDT", bids=[("1", "2")])
        assert fake.book_at("BTCUSDT", u) == [fake.book("BTCUSDT", 5)]
        _, hidden = fake.skip_depth_updates("BTCUSDT", 3)
        at_hidden = fake.book("BTCUSDT", 5)
        assert fake.book_at("BTCUSDT", hidden) == [at_hidden] and fake.book_at("BTCUSDT", u + 1) == []
        new = fake.reset_book("BTCUSDT", update_id=u)  # ids reused: both books kept, oldest first
        books = fake.book_at("BTCUSDT", new)
        assert len(books) == 2 and books[1] == fake.book("BTCUSDT", 5) and books[0]["bids"] != books[1]["bids"]
