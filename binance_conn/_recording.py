"""Connector mixin: ``conn.record(path)`` (issue 16: record every raw frame and REST response)."""

from __future__ import annotations

__all__ = ["RecordingMixin"]


class RecordingMixin:
    """``record()`` / ``stop_recording()`` on :class:`~binance_conn.Connector`."""
