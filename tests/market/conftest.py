"""Fixtures of the socket-free market-session tests."""

from __future__ import annotations

from typing import Iterator

import pytest
from _market_helpers import Market, make_market, stop


@pytest.fixture
def market() -> Iterator[Market]:
    m = make_market()
    yield m
    stop(m)
