"""The user-data session: WebSocket API link(s), event delivery, gap reconciliation.

Modules (no import cycles: a module that needs its host gets a small ``Protocol``):
``session.py`` (the session, its ticker; imports the rest), ``rollover.py`` (carries out
``_core/lifecycle.LinkSet``), ``conn.py`` (one connection and its reader; ``LinkHost``),
``delivery.py`` (parse, dedupe, publish; ``HoldingLink``), ``reconcile.py``, ``client.py``
(``conn.ws_api``).  Futures (listenKey stream): ``futures_session.py`` (key, link, ticker),
``futures_delivery.py`` (parse, apply to the account book, publish), ``futures_reconcile.py``.

Imports ``_io`` and ``_core`` only; what it needs of the REST client is the small
:class:`RestApi` protocol below (the connector hands in its ``RestClient``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

try:  # Python >= 3.8
    from typing import Protocol
except ImportError:  # pragma: no cover
    from typing_extensions import Protocol  # type: ignore[assignment]

__all__ = ["RestApi"]


class RestApi(Protocol):
    """What the user-data session uses of the connector's REST client."""

    @property
    def clock_offset_ms(self) -> int: ...

    def sync_clock(self, force: bool = False) -> int: ...

    def request(self, method: str, path: str, params: Optional[Mapping[str, Any]] = None,
                signed: bool = False, timeout: Any = None) -> Any: ...
