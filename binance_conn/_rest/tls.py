"""REST's TLS trust and its TLS/proxy connect failures.

:class:`TrustAdapter` hands one ``ssl.SSLContext`` (``_io.netenv.resolve_trust``: the
config's context or CA bundle, or the CA variables of the environment) to every
connection urllib3 opens, directly or through a proxy's CONNECT tunnel, so REST trusts
exactly what the WebSocket trusts.  :func:`connect_failure` reads what requests/urllib3
raised for a TLS or proxy failure and names it the way the WebSocket transport does
(``_io/connect_errors.py``): ``TLSError`` with reason ``certificate``/``hostname``/``tls``,
``ProxyError`` with ``proxy_auth``/``proxy_status``/``proxy_down``.
"""

from __future__ import annotations

import re
import ssl
from typing import Any, Dict, Iterator, Optional, Set, Tuple, Type

from .._io.connect_errors import classify as classify_connect
from ..errors import ConnectionError, ProxyError, TLSError
from .deadline import DeadlineAdapter

__all__ = ["TrustAdapter", "connect_failure"]

_TUNNEL_STATUS = re.compile(r"Tunnel connection failed: (\d{3})(?: (.*))?")


class TrustAdapter(DeadlineAdapter):
    """A :class:`DeadlineAdapter` whose https connections use ``ssl_context`` (always verifying)."""

    def __init__(self, ssl_context: ssl.SSLContext, **kwargs: Any) -> None:
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request: Any, verify: Any, cert: Any = None) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params.get("scheme") == "https":
            # The context carries the trust: no CA path on top (urllib3 would load it INTO the context).
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["cert_reqs"] = "CERT_REQUIRED"
            pool_kwargs["ssl_context"] = self._ssl_context
        return host_params, pool_kwargs


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (args, reasons, causes), breadth first, bounded."""
    seen: Set[int] = set()
    todo = [exc]
    while todo and len(seen) < 24:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        for nxt in (getattr(item, "reason", None), item.__cause__, item.__context__, *item.args):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def connect_failure(exc: BaseException, host: str, port: int
                    ) -> Optional[Tuple[Type[ConnectionError], str, Dict[str, Any]]]:
    """``(error class, text, details)`` for a TLS or proxy failure inside ``exc``, or None."""
    for item in _chain(exc):
        if isinstance(item, ssl.SSLError):
            fail = classify_connect(item, host, port)
            if fail.cls is TLSError:
                return TLSError, fail.message, {"reason": fail.kind, "host": host, "port": port}
    text = " ".join(str(item) for item in _chain(exc))
    match = _TUNNEL_STATUS.search(text)
    if match is not None:
        status = int(match.group(1))
        phrase = (match.group(2) or "").split("'")[0].split('"')[0].strip()
        if status == 407:
            return ProxyError, f"proxy refused CONNECT to {host}:{port}: HTTP 407 (proxy authentication)", \
                {"reason": "proxy_auth", "proxy_status": status, "host": host, "port": port}
        return ProxyError, f"proxy refused CONNECT to {host}:{port}: HTTP {status} {phrase}".rstrip(), \
            {"reason": "proxy_status", "proxy_status": status, "host": host, "port": port}
    if any(type(item).__name__ == "ProxyError" for item in _chain(exc)):
        return ProxyError, f"proxy unreachable for {host}:{port}", {"reason": "proxy_down", "host": host,
                                                                   "port": port}
    return None
