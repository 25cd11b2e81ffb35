"""Exchange presets (binance, binance-testnet, binance-demo, binance-data), the time unit and
recvWindow with microsecond decimals, as the builder validates them.

The URLs are the ones the docs snapshot gives (``/work/shared/binance-spot-api-docs``):
testnet/general-info.md, demo-mode/general-info.md, rest-api.md and web-socket-streams.md
"General API Information", faqs/market_data_only.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from _spot_docs import DOCS  # noqa: E402

from binance_conn import ValidationError
from binance_conn.config import EXCHANGES, MARKET_DATA_ONLY, Config, ExchangeConfig


def _fails(builder: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        builder.build()
    return info.value


# ------------------------------------------------------------------------------- presets

PRESETS = {
    "binance": ("https://api.binance.com", "wss://stream.binance.com:9443", "wss://ws-api.binance.com:443"),
    "binance-testnet": ("https://testnet.binance.vision", "wss://stream.testnet.binance.vision",
                        "wss://ws-api.testnet.binance.vision"),
    "binance-demo": ("https://demo-api.binance.com", "wss://demo-stream.binance.com:9443",
                     "wss://demo-ws-api.binance.com"),
    "binance-data": ("https://data-api.binance.vision", "wss://data-stream.binance.vision:443", ""),
}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_urls(name: str) -> None:
    ex = Config.builder().with_exchange(name).build().exchange
    assert (ex.rest_url, ex.ws_url, ex.ws_api_url) == PRESETS[name]
    assert ex.name == name
    assert ex.market_data_only is (name == "binance-data")
    assert ex.time_unit == "MILLISECOND"


def test_preset_table_is_the_documented_set() -> None:
    spot = {name for name in EXCHANGES if "usdm" not in name and "coinm" not in name}  # futures: tests of issue 14
    assert spot == set(PRESETS)
    assert MARKET_DATA_ONLY == frozenset({"binance-data"})


@pytest.mark.parametrize("name", ["Binance-Demo", "BINANCE-DATA"])
def test_preset_names_case_insensitive(name: str) -> None:
    assert Config.builder().with_exchange(name).build().exchange.name == name.lower()


@pytest.mark.parametrize("bad", ["binance-futures", "", None, 7, "demo"])
def test_unknown_exchange_lists_known_ones(bad: Any) -> None:
    err = _fails(Config.builder().with_exchange(bad))
    assert err.field == "exchange.name"
    for known in PRESETS:
        assert known in err.constraint


# The hosts must be the documented ones: read them from the docs snapshot itself.
_DOC_HOSTS = [
    ("demo-mode/general-info.md", "https://demo-api.binance.com/api", ("binance-demo", "rest_url")),
    ("demo-mode/general-info.md", "wss://demo-ws-api.binance.com/ws-api/v3", ("binance-demo", "ws_api_url")),
    ("demo-mode/general-info.md", "wss://demo-stream.binance.com:9443/stream", ("binance-demo", "ws_url")),
    ("testnet/general-info.md", "https://testnet.binance.vision/api", ("binance-testnet", "rest_url")),
    ("testnet/general-info.md", "wss://ws-api.testnet.binance.vision/ws-api/v3", ("binance-testnet", "ws_api_url")),
    ("testnet/general-info.md", "wss://stream.testnet.binance.vision/stream", ("binance-testnet", "ws_url")),
    ("rest-api.md", "https://data-api.binance.vision", ("binance-data", "rest_url")),
    ("web-socket-streams.md", "wss://data-stream.binance.vision", ("binance-data", "ws_url")),
    ("faqs/market_data_only.md", "wss://data-stream.binance.vision:443/ws", ("binance-data", "ws_url")),
]


@pytest.mark.parametrize("doc,url,where", _DOC_HOSTS, ids=[f"{w[0]}.{w[1]}@{d}" for d, _, w in _DOC_HOSTS])
def test_preset_matches_docs_snapshot(doc: str, url: str, where: Any) -> None:
    path = DOCS / doc
    if not path.exists():
        pytest.skip("docs snapshot not present")
    assert url in path.read_text(encoding="utf-8"), f"{url} not in {doc}"
    base = EXCHANGES[where[0]][where[1]]
    host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0]
    assert base.split("://", 1)[1].split(":", 1)[0] == host


@pytest.mark.parametrize("name", ["binance-demo", "binance-data"])
def test_url_overrides_win_over_new_presets(name: str) -> None:
    ex = (Config.builder().with_exchange(name).with_rest_url("http://127.0.0.1:8080/api")
          .with_ws_url("ws://127.0.0.1:8081/stream").build().exchange)
    assert ex.rest_url == "http://127.0.0.1:8080"
    assert ex.ws_url == "ws://127.0.0.1:8081"
    if name == "binance-data":
        assert ex.ws_api_url == ""  # never derived: binance-data has no WebSocket API
    else:
        assert ex.ws_api_url == "ws://127.0.0.1:8081"


def test_data_preset_keeps_an_explicit_ws_api_url_but_stays_market_data_only() -> None:
    ex = Config.builder().with_exchange("binance-data").with_ws_api_url("ws://127.0.0.1:9/ws-api/v3").build().exchange
    assert ex.ws_api_url == "ws://127.0.0.1:9"
    assert ex.market_data_only
    with pytest.raises(ValidationError) as info:
        ex.require_account_access("x")
    assert info.value.field == "exchange"
    assert info.value.constraint.startswith("binance-data serves public market data only")


@pytest.mark.parametrize("name", ["binance", "binance-testnet", "binance-demo"])
def test_account_exchanges_allow_account_access(name: str) -> None:
    Config.builder().with_exchange(name).build().exchange.require_account_access("x")  # no raise


def test_hand_made_exchange_config_defaults() -> None:
    ex = ExchangeConfig()
    assert ex.time_unit == "MILLISECOND" and not ex.market_data_only


# ------------------------------------------------------------------------------- time unit

@pytest.mark.parametrize("given,expected", [
    ("MICROSECOND", "MICROSECOND"), ("microsecond", "MICROSECOND"), (" Microsecond ", "MICROSECOND"),
    ("MILLISECOND", "MILLISECOND"), ("millisecond", "MILLISECOND"),
])
def test_time_unit_accepted(given: str, expected: str) -> None:
    assert Config.builder().with_time_unit(given).build().exchange.time_unit == expected


@pytest.mark.parametrize("bad", ["NANOSECOND", "ms", "", None, 1000, True])
def test_time_unit_rejected(bad: Any) -> None:
    err = _fails(Config.builder().with_time_unit(bad))
    assert err.field == "exchange.time_unit"
    assert "MICROSECOND" in err.constraint and "MILLISECOND" in err.constraint


def test_time_unit_survives_preset_and_overrides() -> None:
    ex = (Config.builder().with_time_unit("microsecond").with_exchange("binance-data")
          .with_rest_url("http://127.0.0.1:1").build().exchange)
    assert ex.time_unit == "MICROSECOND"


# ------------------------------------------------------------------------------- recvWindow

@pytest.mark.parametrize("given,stored,text", [
    (5000, 5000, "5000"),
    ("5000", 5000, "5000"),
    ("5000.123", Decimal("5000.123"), "5000.123"),
    (Decimal("5000.5"), Decimal("5000.5"), "5000.5"),
    (Decimal("5000.500"), Decimal("5000.5"), "5000.5"),  # trailing zeros dropped
    ("6000.346", Decimal("6000.346"), "6000.346"),        # the docs' example
    (Decimal("5000.000"), 5000, "5000"),
    (Decimal("5E+3"), 5000, "5000"),                        # no exponent on the wire
    ("0.001", Decimal("0.001"), "0.001"),
    ("60000", 60000, "60000"),
    (Decimal("60000.000"), 60000, "60000"),
    (1, 1, "1"),
])
def test_recv_window_decimals(given: Any, stored: Any, text: str) -> None:
    from binance_conn._core.timing import format_recv_window

    value = Config.builder().with_recv_window(given).build().rest.recv_window
    assert value == stored and type(value) is type(stored)
    assert format_recv_window(value) == text


@pytest.mark.parametrize("bad", [
    5000.5, 5000.0, "5000.1234", Decimal("0.0001"), Decimal("5000.0005"), 0, "0", "0.000", -1, "-0.5",
    60001, "60000.001", Decimal("NaN"), Decimal("Infinity"), "abc", "", True, None, [5000],
])
def test_recv_window_rejected(bad: Any) -> None:
    err = _fails(Config.builder().with_recv_window(bad))
    assert err.field == "rest.recv_window"


def test_recv_window_float_is_refused_even_with_float_conversion() -> None:
    err = _fails(Config.builder().with_float_conversion().with_recv_window(5000.5))
    assert err.field == "rest.recv_window" and "float" in err.constraint
