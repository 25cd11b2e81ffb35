"""Whom a connection trusts and which proxy it goes through: config first, then the environment.

Resolved ONCE per client or session (when it is built), never per request or message,
and the same way for REST and WebSocket, so one setting reaches both transports.

TLS trust, first match wins (README "TLS, CA bundles and proxies"):

1. ``ConfigBuilder.with_ssl_context(ctx)``: that context, as given;
2. ``ConfigBuilder.with_ca_bundle(path)``: a PEM file or a hashed directory of CAs;
3. ``REQUESTS_CA_BUNDLE``, then ``CURL_CA_BUNDLE`` (as requests reads them);
4. ``SSL_CERT_FILE`` and/or ``SSL_CERT_DIR`` (as OpenSSL reads them);
5. nothing set: REST keeps requests' default (certifi), WebSocket the system store
   (``ssl.create_default_context()``).

An environment variable that names a missing path is ignored with a WARNING (as
OpenSSL ignores it) and the next source applies.  Verification is never off: a context
without certificate or hostname checks is rejected by the config builder.

Proxies: an explicit ``with_proxy`` wins for both transports; otherwise
``https_proxy``/``http_proxy``/``all_proxy`` (lower case first, then upper case) apply to
``wss``/``ws`` URLs as requests applies them to ``https``/``http``, unless ``no_proxy``
matches the host (names with their subdomains, ``host:port``, ``*``, IP networks in
CIDR form).  Credentials stay percent-encoded in the URL; the transports decode them once.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
import threading
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from ..errors import ValidationError
from .connect_errors import redact_url
from .transport import Transport, WsTransport

__all__ = ["Trust", "resolve_trust", "trust_context", "env_proxy", "proxy_bypassed", "WsTransportFactory",
           "CA_FILE_VARS"]

_log = logging.getLogger("binance_conn.tls")

CA_FILE_VARS: Tuple[str, ...] = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
"""Bundle variables read before OpenSSL's ``SSL_CERT_FILE``/``SSL_CERT_DIR`` (requests' order)."""


class Trust:
    """The resolved TLS trust of one client: ``context`` (None: the transport's default),
    ``ca_file``/``ca_dir`` it was made from and ``source`` (where it came from, for logs)."""

    __slots__ = ("context", "ca_file", "ca_dir", "source")

    def __init__(self, context: Optional[ssl.SSLContext], ca_file: Optional[str], ca_dir: Optional[str],
                 source: str) -> None:
        self.context = context
        self.ca_file = ca_file
        self.ca_dir = ca_dir
        self.source = source

    @property
    def verify(self) -> Any:
        """What ``requests`` takes as ``verify=`` for the same trust (a context goes through the adapter)."""
        return self.ca_file or self.ca_dir or True

    def __repr__(self) -> str:
        return f"Trust(source={self.source!r}, ca_file={self.ca_file!r}, ca_dir={self.ca_dir!r})"


def trust_context(ca_file: Optional[str], ca_dir: Optional[str]) -> ssl.SSLContext:
    """A verifying client context trusting exactly ``ca_file`` and/or ``ca_dir``. Raises OSError/ssl.SSLError."""
    return ssl.create_default_context(cafile=ca_file or None, capath=ca_dir or None)


def _env_path(environ: Mapping[str, str], name: str) -> Optional[str]:
    value = (environ.get(name) or "").strip()
    if not value:
        return None
    if not os.path.exists(value):
        _log.warning("ignoring %s=%s: no such file or directory", name, value, extra={"variable": name})
        return None
    return value


def resolve_trust(tls: Any, environ: Optional[Mapping[str, str]] = None) -> Trust:
    """The trust for ``config.tls`` (any thread; reads files once; see the module docstring for the order).

    Raises:
        ValidationError: a CA bundle cannot be loaded (``field``: ``tls.ca_bundle`` or the variable).
    """
    env = os.environ if environ is None else environ
    context: Optional[ssl.SSLContext] = getattr(tls, "ssl_context", None)
    if context is not None:
        return Trust(context, None, None, "ssl_context")
    bundle: Optional[str] = getattr(tls, "ca_bundle", None)
    if bundle:
        return _trust_from(bundle, "ca_bundle")
    for name in CA_FILE_VARS:
        path = _env_path(env, name)
        if path is not None:
            return _trust_from(path, name)
    ca_file, ca_dir = _env_path(env, "SSL_CERT_FILE"), _env_path(env, "SSL_CERT_DIR")
    if ca_file or ca_dir:
        source = "+".join(n for n, v in (("SSL_CERT_FILE", ca_file), ("SSL_CERT_DIR", ca_dir)) if v)
        return Trust(_load(ca_file, ca_dir, source), ca_file, ca_dir, source)
    return Trust(None, None, None, "default")


def _trust_from(path: str, source: str) -> Trust:
    if os.path.isdir(path):
        return Trust(_load(None, path, source), None, path, source)
    return Trust(_load(path, None, source), path, None, source)


_CACHE: Dict[Tuple[Any, ...], ssl.SSLContext] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def _load(ca_file: Optional[str], ca_dir: Optional[str], source: str) -> ssl.SSLContext:
    """A context for these CA paths, shared while the files are unchanged: loading a system-size
    bundle costs ~50-90 ms, and every client and session of the process would repeat it.
    (Sharing is safe: the context is ours, verifying, and SSLContext is thread-safe.)"""
    try:
        key = (ca_file, ca_dir, *(_stamp(p) for p in (ca_file, ca_dir)))
        with _CACHE_LOCK:
            ctx = _CACHE.get(key)
        if ctx is None:
            ctx = trust_context(ca_file, ca_dir)
            with _CACHE_LOCK:
                if len(_CACHE) >= _CACHE_SIZE:
                    _CACHE.clear()
                ctx = _CACHE.setdefault(key, ctx)
        return ctx
    except (OSError, ssl.SSLError, ValueError) as exc:
        field = "tls.ca_bundle" if source == "ca_bundle" else source
        raise ValidationError(field, ca_file or ca_dir, f"cannot load the CA certificates ({exc})") from None


def _stamp(path: Optional[str]) -> Tuple[int, int]:
    if not path:
        return (0, 0)
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size)


# --------------------------------------------------------------------------------------------- proxies
def _proxy_env(environ: Mapping[str, str]) -> Dict[str, str]:
    """``{"https": url, "http": url, "all": url, "no": hosts}`` from ``*_proxy`` variables, lower case winning."""
    found: Dict[str, str] = {}
    for lower_pass in (False, True):
        for name, value in environ.items():
            if not value or not name.lower().endswith("_proxy") or (name == name.lower()) != lower_pass:
                continue
            found[name[:-6].lower()] = value.strip()
    if "REQUEST_METHOD" in environ and environ.get("http_proxy") is None:
        found.pop("http", None)  # CGI: HTTP_PROXY may come from a request header (httpoxy)
    return found


def proxy_bypassed(host: str, port: int, no_proxy: str) -> bool:
    """True when ``no_proxy`` (comma-separated) exempts ``host:port``."""
    entries = [e.strip() for e in no_proxy.replace(" ", ",").split(",") if e.strip()]
    if not entries:
        return False
    try:
        address: Optional[Any] = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    rest = []
    for entry in entries:
        if entry == "*":
            return True
        if "/" in entry:
            if address is not None:
                try:
                    if address in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    pass
            continue
        rest.append(entry)
    host = host.strip("[]").lower()
    for entry in rest:
        name, port_text = entry.lower(), ""
        if name.startswith("["):  # [v6] or [v6]:port
            name, _, tail = name[1:].partition("]")
            port_text = tail[1:] if tail.startswith(":") else ""
        elif name.count(":") == 1:  # host:port (a bare IPv6 address has several colons)
            name, _, port_text = name.partition(":")
        name = name.lstrip("*").lstrip(".")
        if port_text and port_text != str(port):
            continue
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def env_proxy(url: str, environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The proxy the environment gives for ``url`` (``ws``/``http`` or ``wss``/``https``), or None."""
    env = _proxy_env(os.environ if environ is None else environ)
    parts = urlsplit(url)
    secure = parts.scheme.lower() in ("wss", "https")
    proxy = env.get("https" if secure else "http") or env.get("all")
    if not proxy:
        return None
    host = parts.hostname or ""
    if proxy_bypassed(host, parts.port or (443 if secure else 80), env.get("no", "")):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy  # as requests and urllib read a bare host:port
    return proxy


class WsTransportFactory:
    """A :data:`~binance_conn._io.transport.TransportFactory` carrying the connector's TLS trust and
    environment proxies to every :class:`WsTransport` it makes.

    Built once per session (at the connector's construction or start), from ``config.tls``,
    ``config.websocket.proxy`` and the environment: a connect looks its proxy up in a small
    per-host table.  A ``proxy`` passed by the session (the configured one) wins.
    Called from a session's connect thread.
    """

    def __init__(self, config: Any, urls: Sequence[str] = (), environ: Optional[Mapping[str, str]] = None) -> None:
        self._environ: Mapping[str, str] = dict(os.environ if environ is None else environ)
        self.trust = resolve_trust(getattr(config, "tls", None), self._environ)
        if self.trust.source != "default":
            _log.info("WebSocket TLS trust from %s", self.trust.source, extra={"tls_source": self.trust.source})
        self.configured_proxy: Optional[str] = config.websocket.proxy
        self._proxies: Dict[Tuple[str, str], Optional[str]] = {}
        for url in urls:
            self.proxy_for(url)

    def proxy_for(self, url: str) -> Optional[str]:
        """The proxy a connection to ``url`` goes through (configured, else environment, else None)."""
        if self.configured_proxy:
            return self.configured_proxy
        parts = urlsplit(url)
        key = (parts.scheme.lower(), parts.netloc.lower())
        try:
            return self._proxies[key]
        except KeyError:
            proxy = self._proxies[key] = env_proxy(url, self._environ)
            if proxy:
                _log.info("WebSocket %s://%s goes through proxy %s (from the environment)", key[0], key[1],
                          redact_url(proxy))
            return proxy

    def __call__(self, url: str, *, handshake_timeout: float = 10.0, proxy: Optional[str] = None,
                 headers: Optional[Sequence[str]] = None, **kwargs: Any) -> Transport:
        kwargs.setdefault("ssl_context", self.trust.context)
        return WsTransport(url, handshake_timeout=handshake_timeout, proxy=proxy or self.proxy_for(url),
                           headers=headers, **kwargs)

    def __repr__(self) -> str:
        proxies = {f"{s}://{n}": redact_url(p) for (s, n), p in self._proxies.items()}
        return f"WsTransportFactory(trust={self.trust!r}, proxy={redact_url(self.configured_proxy)!r}, " \
               f"env_proxies={proxies!r})"
