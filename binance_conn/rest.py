"""Public import path of the REST client (the body lives in ``_rest/``)."""

from __future__ import annotations

from ._rest.client import RestClient
from ._rest.futures import FuturesRestClient  # importing it makes RestClient(futures config) futures-aware

__all__ = ["RestClient", "FuturesRestClient"]
