"""Regression: a stream connection cut during its handshake (registered, 101 not yet sent) stayed
listed as open, with its URL streams, until some other connection closed; the connector's
``test_unsubscribe_while_disconnected_is_not_replayed`` then saw a stream "still subscribed" that
no live connection carried (3 of 40 runs)."""

from __future__ import annotations

from typing import Any

import pytest
import websocket
from fakehelpers import scaled

from binance_conn.testing import FakeBinance


def test_a_connection_cut_during_its_handshake_is_not_listed_as_open(fake: FakeBinance,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    opened = fake._session_opened

    def cut_right_after_registration(session: Any) -> None:
        opened(session)
        session.abort("dropped by test")  # what drop_connections() does, before the 101 goes out

    monkeypatch.setattr(fake, "_session_opened", cut_right_after_registration)
    with pytest.raises(Exception):  # noqa: B017 - the handshake dies: any websocket-client error
        websocket.create_connection(fake.ws_url + "/stream?streams=ethusdt@trade", timeout=scaled(2))
    assert fake.wait_until(lambda: fake.subscribed_streams() == [], scaled(3)), fake.subscribed_streams()
    assert fake.open_connections("stream") == 0
