"""The public surface: ``__all__`` holds every API.md name that exists, and nothing is missing."""

from __future__ import annotations

import binance_conn as bc

# Names API.md fixes. Each must be exported (the list grows as issues land; no stubs).
API_NAMES = {
    "Config",
    "ConfigBuilder",
    "new_config",
    "OverflowPolicy",
    "ConnectionState",
    "ValidationError",
    "BinanceError",
    "ConnectionError",
    "NotConnectedError",
    "RateLimitError",
    "IPBannedError",
    "AuthenticationError",
    "TimestampError",
    "NotFoundError",
    "OrderRejectedError",
    "UnknownStatusError",
    "APIError",
    "ConnectionEvent",
    "Ticker",
    "BookTicker",
    "Trade",
    "Kline",
    "DepthUpdate",
    "OrderUpdate",
    "BalanceUpdate",
    "Connector",
    "RestClient",
    "Hub",  # API.md "Beyond one process" (imported on first use: binance_conn.__getattr__)
    "RedisFeed",
}
LATER: "set[str]" = set()


def test_api_names_are_exported() -> None:
    missing = API_NAMES - set(bc.__all__)
    assert not missing, f"API.md names missing from __all__: {sorted(missing)}"


def test_every_exported_name_resolves() -> None:
    for name in bc.__all__:
        assert hasattr(bc, name), name


def test_later_names_exported_once_they_exist() -> None:
    for name in LATER:
        if hasattr(bc, name):
            assert name in bc.__all__, name


def test_no_private_names_exported() -> None:
    assert not [n for n in bc.__all__ if n.startswith("_") and n != "__version__"]


def test_version_is_a_string() -> None:
    assert isinstance(bc.__version__, str) and bc.__version__.count(".") == 2
