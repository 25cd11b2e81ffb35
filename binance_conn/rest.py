"""Public import path of the REST client (the body lives in ``_rest/``)."""

from __future__ import annotations

from ._rest.client import RestClient

__all__ = ["RestClient"]
