"""Typed market methods (see :mod:`binance_conn._api`)."""

from __future__ import annotations

from .base import ApiBase

__all__ = ["MarketDataApi"]


class MarketDataApi(ApiBase):
    """market endpoints; each method documents its endpoint, weight and security."""
