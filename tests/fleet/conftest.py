"""Fixtures of the fleet tests (Redis ones are in tests/conftest.py)."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest
from _helpers import wait_until


def _threads() -> "set[threading.Thread]":
    return {t for t in threading.enumerate() if t.name.startswith("binance_conn") and t.is_alive()}


@pytest.fixture
def no_leak() -> Iterator[None]:
    before = _threads()
    yield None
    assert wait_until(lambda: not (_threads() - before), 5.0), f"leaked: {_threads() - before}"
