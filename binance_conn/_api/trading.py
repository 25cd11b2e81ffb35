"""Typed trading methods (see :mod:`binance_conn._api`)."""

from __future__ import annotations

from .base import ApiBase

__all__ = ["TradingApi"]


class TradingApi(ApiBase):
    """trading endpoints; each method documents its endpoint, weight and security."""
