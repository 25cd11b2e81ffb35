"""Settings shared by the fleet's web workers and its cron job, all from the environment.

    REDIS_URL            the one Redis: hub streams, feeds, shared limits (default redis://127.0.0.1:6379/0)
    HUB_PREFIX           the hub's key prefix (default binance_conn, as ``python -m binance_conn.hub``)
    BINANCE_SYMBOLS      symbols the web app serves (default BTCUSDT,ETHUSDT)
    BINANCE_SHARED_KEY   the shared-limits key: one per egress IP (default: the REST host, i.e. one
                         budget for every process using this Redis; see README.md)
    BINANCE_EXCHANGE     "binance" (default) or "binance-testnet"
    BINANCE_REST_URL     optional URL override, e.g. the fake's from ``python -m binance_conn.testing``
    BINANCE_TIMEOUT      seconds per REST call, retries included (default 10)
    BINANCE_API_KEY, BINANCE_API_SECRET (or BINANCE_PRIVATE_KEY_PATH): for the signed calls
"""

from __future__ import annotations

import os
from typing import List, Optional
from urllib.parse import urlsplit, urlunsplit

import binance_conn as bc

__all__ = ["HUB_PREFIX", "REDIS_URL", "SHARED_KEY", "SYMBOLS", "build_config", "redis_for_logs"]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
HUB_PREFIX = os.environ.get("HUB_PREFIX", "binance_conn")
SYMBOLS: List[str] = [s.strip().upper() for s in os.environ.get("BINANCE_SYMBOLS", "BTCUSDT,ETHUSDT").split(",")
                      if s.strip()]
SHARED_KEY: Optional[str] = os.environ.get("BINANCE_SHARED_KEY") or None


def build_config() -> bc.Config:
    """The REST config of every process of the fleet: keys from the environment, limits shared
    through Redis. Raises bc.ValidationError (naming the field) for a bad value."""
    b = bc.Config.builder().with_exchange(os.environ.get("BINANCE_EXCHANGE", "binance")).from_env()
    if os.environ.get("BINANCE_REST_URL"):
        b = b.with_rest_url(os.environ["BINANCE_REST_URL"])
    raw_timeout = os.environ.get("BINANCE_TIMEOUT")
    if raw_timeout:
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise bc.ValidationError("BINANCE_TIMEOUT", raw_timeout, "must be a number of seconds") from None
        b = b.with_timeout(timeout)
    # Every process of the fleet (web workers, cron jobs, the hub with --shared-limits) draws on
    # one request-weight budget, one order count and one 429/418 ban gate per key.
    return b.with_shared_limits(REDIS_URL, key=SHARED_KEY).build()


def redis_for_logs(url: str = REDIS_URL) -> str:
    """``url`` without its password (for log lines)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
