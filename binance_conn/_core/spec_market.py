"""Endpoint table: market endpoints (see :mod:`.endpoints`)."""

from __future__ import annotations

from typing import Tuple

from .endpoints import Endpoint

__all__ = ["ENDPOINTS"]

ENDPOINTS: Tuple[Endpoint, ...] = ()
