"""Connector mixin: ``conn.health()`` (issue 16: a small JSON-able dict for a web health route)."""

from __future__ import annotations

__all__ = ["HealthMixin"]


class HealthMixin:
    """``health()`` on :class:`~binance_conn.Connector`."""
