"""Connecting to Redis: the lazy import of redis-py, short timeouts, URLs safe to log."""

from __future__ import annotations

import importlib
from typing import Any

from ..config import mask_url

__all__ = ["import_redis", "make_client", "close_quietly", "safe_url", "REDIS_EXTRA_HINT"]

REDIS_EXTRA_HINT = "needs redis-py: pip install 'binance_conn[redis]'"


def import_redis() -> Any:
    """The ``redis`` module; ImportError naming the extra when it is not installed."""
    try:
        return importlib.import_module("redis")
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError(f"binance_conn's Redis features {REDIS_EXTRA_HINT}") from exc


def make_client(url: str, *, timeout: float = 0.5, name: str = "binance_conn") -> Any:
    """A ``redis.Redis`` for ``url`` whose every command fails within ``timeout`` seconds
    when the server is down (no built-in retries: the callers fall back and reconnect)."""
    redis = import_redis()
    client = redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry_on_timeout=False,
        health_check_interval=0,
        client_name=name,
    )
    return client


def close_quietly(client: Any) -> None:
    """Close a Redis client that may be broken (a dead server, a half-open socket); never raises."""
    if client is not None:
        try:
            client.close()
        except Exception:  # noqa: BLE001 - closing a broken client
            pass


def safe_url(url: str) -> str:
    """``url`` with any password (userinfo or ``password=``) replaced by ``***`` (for logs, reprs
    and errors)."""
    return mask_url(url)
