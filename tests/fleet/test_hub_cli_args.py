"""Hub arguments as a user types them: ``streams``/``books`` must be lists, ``python -m binance_conn.hub``
quotes the user's input in its errors, refuses a bad ``--log-level`` through argparse and points
to the README; a refused topic's reason reaches the feed once."""

from __future__ import annotations

import itertools
import os
import pathlib
from typing import Any, Iterator, List

import pytest
from _helpers import wait_until
from _hub_helpers import Rec, fast_config

import binance_conn as bc
from binance_conn import hub as hub_mod
from binance_conn.testing import FakeBinance

_prefixes = itertools.count(1)
README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(seed=11) as f:
        yield f


@pytest.fixture
def basic_config(monkeypatch: Any) -> List[Any]:
    """``logging.basicConfig`` calls of the CLI (kept off the test process's logging)."""
    calls: List[Any] = []
    monkeypatch.setattr(hub_mod.logging, "basicConfig", lambda **kw: calls.append(kw))
    return calls


@pytest.mark.parametrize("kwargs, field", [
    ({"streams": "btcusdt@trade"}, "streams"),
    ({"books": "BTCUSDT"}, "books"),
    ({"streams": 5}, "streams"),
    ({"books": [5]}, "books"),
    ({"books": [("BTCUSDT", 5, 1)]}, "books"),
])
def test_streams_and_books_must_be_lists(fake: FakeBinance, kwargs: Any, field: str) -> None:
    with pytest.raises(bc.ValidationError) as info:
        bc.Hub(fast_config(fake), "redis://h", **kwargs)
    assert info.value.field == field
    if isinstance(kwargs[field], str):
        assert "list" in str(info.value) and "single str" in str(info.value)
        assert "(got 'b')" not in str(info.value) and "(got 'B')" not in str(info.value)


def test_tuples_and_pairs_are_fine(fake: FakeBinance) -> None:
    hub = bc.Hub(fast_config(fake), "redis://h", streams=("btcusdt@trade",), books=[("BTCUSDT", 5), "ETHUSDT"])
    assert hub.topics == sorted(hub.topics) and len(hub.topics) == 3


@pytest.mark.parametrize("argv, typed", [
    (["--stream", "BTCUSDT"], "BTCUSDT"),
    (["--stream", "BTCUSDT@Trade"], "BTCUSDT@Trade"),
    (["--stream", "btcusdt@trade", "--stream", "ETHUSDT@nonsense"], "ETHUSDT@nonsense"),
    (["--book", "BTC-USDT"], "BTC-USDT"),
    (["--book", "BTCUSDT@0"], "BTCUSDT@0"),
    (["--book", "BTCUSDT@x"], "BTCUSDT@x"),
])
def test_cli_errors_quote_what_was_typed(argv: List[str], typed: str, capsys: Any, basic_config: List[Any]) -> None:
    assert hub_mod.main(argv) == 2
    err = capsys.readouterr().err
    option = argv[-2]
    assert f"invalid {option}:" in err and f"(got {typed!r})" in err, err
    assert err.count("(got ") == 1, err


@pytest.mark.parametrize("level", ["LOUD", "verbose", ""])
def test_cli_log_level_is_an_argparse_choice(level: str, capsys: Any, basic_config: List[Any]) -> None:
    with pytest.raises(SystemExit) as info:
        hub_mod.main(["--log-level", level, "--stream", "nope"])  # a bad stream: never runs a hub
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --log-level: invalid choice" in err and "Traceback" not in err
    assert basic_config == []


def test_cli_log_level_takes_any_case(capsys: Any, basic_config: List[Any]) -> None:
    assert hub_mod.main(["--log-level", "warning", "--stream", "nope"]) == 2  # stops at the bad stream
    assert [c["level"] for c in basic_config] == ["WARNING"]


def test_cli_help_points_to_the_readme(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        hub_mod.main(["--help"])
    out = capsys.readouterr().out
    assert "API.md" not in out and 'README "One hub, many consumers"' in " ".join(out.split())
    assert "\n## One hub, many consumers\n" in README.read_text(encoding="utf-8")


def test_a_refused_topic_reaches_the_feed_once(fake: FakeBinance, redis_url: str, no_leak: None) -> None:
    prefix = f"cli{os.getpid()}-{next(_prefixes)}"
    hub = bc.Hub(fast_config(fake), redis_url, streams=["btcusdt@trade"], prefix=prefix, interval=0.1)
    feed = bc.RedisFeed(redis_url, prefix=prefix, checkpoint_interval=0.05)
    errors = Rec()
    feed.on_error(errors)
    try:
        hub.start()
        feed.start()
        feed.on_stream("ethusdt@nonsense", lambda e: None)
        assert wait_until(lambda: any(isinstance(e, bc.ValidationError) for e in errors.snapshot()), 10)
        err = [e for e in errors.snapshot() if isinstance(e, bc.ValidationError)][0]
        text = str(err)
        assert err.field == "stream" and "the hub cannot hold it" in text
        assert text.count("ethusdt@nonsense") == 1 and text.count("(got ") == 1, text
        assert "invalid stream: invalid stream" not in text
    finally:
        assert feed.stop(5.0)
        assert hub.stop(5.0)
