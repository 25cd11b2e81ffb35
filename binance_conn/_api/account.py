"""Typed account methods (see :mod:`binance_conn._api`)."""

from __future__ import annotations

from .base import ApiBase

__all__ = ["AccountApi"]


class AccountApi(ApiBase):
    """account endpoints; each method documents its endpoint, weight and security."""
