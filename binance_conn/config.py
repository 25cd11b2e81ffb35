"""Immutable configuration and its fluent, validating builder.

``Config`` is a tree of frozen dataclasses (exchange endpoints, auth, REST,
websocket, retry/backoff, rate limit, events).  It is made by
:class:`ConfigBuilder` (``Config.builder()`` or ``new_config()``), whose
``build()`` validates every field and raises :class:`~binance_conn.ValidationError`
naming the first bad one.  A :class:`Connector` keeps the ``Config`` it was
given; since nothing in it can change, nothing a caller does later affects a
running connector.

Secrets (API secret, private key, key password) are held in :class:`Secret`,
whose ``repr``/``str`` are masked, so they never reach a log, a repr or an
error message.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import ssl
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, Mapping, Optional, Tuple, cast
from urllib.parse import urlsplit

from ._core.backoff import Backoff
from ._core.health import (
    DEFAULT_HEALTH_CHECK_INTERVAL,
    DEFAULT_PING_INTERVAL,
    DEFAULT_PONG_TIMEOUT,
    DEFAULT_SILENCE_TIMEOUT,
    liveness_timings,
)
from ._core.signing import Signer, build_signer
from ._core.timing import MILLISECOND, RecvWindow, recv_window, time_unit
from ._version import __version__
from .enums import OverflowPolicy
from .errors import ValidationError

__all__ = [
    "Secret",
    "ExchangeConfig",
    "AuthConfig",
    "RestConfig",
    "WebSocketConfig",
    "BackoffConfig",
    "RetryConfig",
    "RateLimitConfig",
    "OrderBookConfig",
    "EventsConfig",
    "TlsConfig",
    "Config",
    "ConfigBuilder",
    "new_config",
    "EXCHANGES",
    "MARKET_DATA_ONLY",
    "PRODUCTS",
]

_MASK = "***"


class Secret:
    """A secret string whose ``repr``/``str`` never show it. ``reveal()`` returns it."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Secret is immutable")

    def reveal(self) -> str:
        """The secret text. Call only where it is used (signing), never to log it."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (Secret, (self._value,))


# Exchange presets (reference section 1). Bases only: the library appends paths
# (``/api/v3/...``, ``/stream?streams=...``, ``/ws-api/v3``).
#   binance-testnet: testnet/general-info.md (Spot Test Network);
#   binance-demo: demo-mode/general-info.md (Demo Mode: realistic market data, demo balances);
#   binance-data: rest-api.md / web-socket-streams.md "General API Information" and
#     faqs/market_data_only.md: public market data only, no WebSocket API, no account
#     (``ws_api_url`` is empty; see :data:`MARKET_DATA_ONLY`).
EXCHANGES: Mapping[str, Mapping[str, str]] = {
    "binance": {
        "rest_url": "https://api.binance.com",
        "ws_url": "wss://stream.binance.com:9443",
        "ws_api_url": "wss://ws-api.binance.com:443",
    },
    "binance-testnet": {
        "rest_url": "https://testnet.binance.vision",
        "ws_url": "wss://stream.testnet.binance.vision",
        "ws_api_url": "wss://ws-api.testnet.binance.vision",
    },
    "binance-demo": {
        "rest_url": "https://demo-api.binance.com",
        "ws_url": "wss://demo-stream.binance.com:9443",
        "ws_api_url": "wss://demo-ws-api.binance.com",
    },
    "binance-data": {
        "rest_url": "https://data-api.binance.vision",
        "ws_url": "wss://data-stream.binance.vision:443",
        "ws_api_url": "",
    },
    # Futures (binance-futures-reference.md section 1). Stream bases carry no route: the library
    # appends /public, /market or /private per stream (USD-M) and /ws-fapi/v1, /ws-dapi/v1 for the
    # WebSocket API. Testnets: the demo REST hosts (the old testnet.binancefuture.com REST is disabled).
    "binance-usdm": {
        "rest_url": "https://fapi.binance.com",
        "ws_url": "wss://fstream.binance.com",
        "ws_api_url": "wss://ws-fapi.binance.com",
    },
    "binance-usdm-testnet": {
        "rest_url": "https://demo-fapi.binance.com",
        "ws_url": "wss://fstream.binancefuture.com",
        "ws_api_url": "wss://testnet.binancefuture.com",
    },
    "binance-coinm": {
        "rest_url": "https://dapi.binance.com",
        "ws_url": "wss://dstream.binance.com",
        "ws_api_url": "wss://ws-dapi.binance.com",
    },
    "binance-coinm-testnet": {
        "rest_url": "https://demo-dapi.binance.com",
        "ws_url": "wss://dstream.binancefuture.com",
        "ws_api_url": "wss://testnet.binancefuture.com",
    },
}

PRODUCTS: Mapping[str, str] = {
    "binance": "spot", "binance-testnet": "spot", "binance-demo": "spot", "binance-data": "spot",
    "binance-usdm": "usdm", "binance-usdm-testnet": "usdm",
    "binance-coinm": "coinm", "binance-coinm-testnet": "coinm",
}
"""The product of each preset: ``"spot"``, ``"usdm"`` (USD-M futures) or ``"coinm"`` (COIN-M futures)."""

MARKET_DATA_ONLY: FrozenSet[str] = frozenset({"binance-data"})
"""Presets that serve public market data only: user data, ``conn.ws_api`` and signed (or
API-key) REST calls raise :class:`ValidationError` (field ``exchange``) before anything is sent."""


@dataclass(frozen=True)
class ExchangeConfig:
    """Which exchange and where: base URLs (``scheme://host[:port]``, no path), and the time unit."""

    name: str = "binance"
    rest_url: str = EXCHANGES["binance"]["rest_url"]
    ws_url: str = EXCHANGES["binance"]["ws_url"]
    ws_api_url: str = EXCHANGES["binance"]["ws_api_url"]
    """Empty for ``binance-data`` (no WebSocket API; an explicit ``with_ws_api_url`` is kept
    but never used there: :attr:`market_data_only` refuses every WebSocket API use)."""
    time_unit: str = MILLISECOND
    """``"MILLISECOND"`` (default) or ``"MICROSECOND"``: the unit of every time field Binance sends
    (REST header ``X-MBX-TIME-UNIT``, ``timeUnit=`` on stream and WebSocket API URLs).  Events and
    REST answers carry the wire values, so with MICROSECOND ``event_time``, ``trade_time``,
    ``open_time`` ... are epoch microseconds."""

    @property
    def product(self) -> str:
        """``"spot"``, ``"usdm"`` or ``"coinm"``: which API the preset speaks (URL overrides keep it)."""
        return PRODUCTS.get(self.name, "spot")

    @property
    def is_futures(self) -> bool:
        """True for the USD-M and COIN-M presets."""
        return self.product != "spot"

    @property
    def market_data_only(self) -> bool:
        """True for ``binance-data``: no user data, no WebSocket API, no signed/API-key REST."""
        return self.name in MARKET_DATA_ONLY

    def require_account_access(self, what: str) -> None:
        """Raise ValidationError (field ``exchange``) when this exchange serves market data only.

        Called before anything is sent or started (no thread, no socket)."""
        if self.name in MARKET_DATA_ONLY:
            raise ValidationError(
                "exchange", self.name,
                f"{self.name} serves public market data only: {what} needs an exchange with accounts "
                f"(binance, binance-testnet or binance-demo)")


@dataclass(frozen=True)
class AuthConfig:
    """Credentials. Public market data needs none."""

    api_key: Optional[str] = None
    api_secret: Optional[Secret] = None
    private_key: Optional[Secret] = None
    private_key_password: Optional[Secret] = None
    key_type: Optional[str] = None
    """``"hmac"``, ``"ed25519"``, ``"rsa"`` or None; found by parsing the key at build time."""

    @property
    def has_credentials(self) -> bool:
        return bool(self.api_key) and (self.api_secret is not None or self.private_key is not None)

    def signer(self) -> Optional[Signer]:
        """The request signer of these credentials, or None without a secret or key.

        The key is parsed once (at :meth:`ConfigBuilder.build`, or at the first call for
        an ``AuthConfig`` made by hand) and the one :class:`Signer` is then shared by
        every component built from this config (REST client, WebSocket API session).
        Any thread; never blocks after the first call.
        """
        cached = self.__dict__.get("_signer", _NO_SIGNER)
        if cached is _NO_SIGNER:
            cached = build_signer(
                secret=self.api_secret.reveal() if self.api_secret is not None else None,
                private_key=self.private_key.reveal() if self.private_key is not None else None,
                password=self.private_key_password.reveal() if self.private_key_password is not None else None,
            )
            object.__setattr__(self, "_signer", cached)  # a cache, not a field: eq/replace ignore it
        return cast(Optional[Signer], cached)

    def __getstate__(self) -> Dict[str, Any]:
        # The parsed key (closures over cryptography objects) is not picklable: re-parsed on demand.
        return {k: v for k, v in self.__dict__.items() if k != "_signer"}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        key = (self.api_key[:4] + "...") if self.api_key else None
        return f"AuthConfig(api_key={key!r}, key_type={self.key_type!r})"


_NO_SIGNER: Any = object()


@dataclass(frozen=True)
class RestConfig:
    """REST client settings. Durations in seconds."""

    timeout: float = 10.0
    """TOTAL deadline of one call, seconds: connecting, sending, waiting for and reading
    the headers and the body, every retry, the backoff between them and any wait for
    request weight all end within it (a server that trickles its answer or never
    answers is cut at the deadline).  Binance's backend itself times out after 10 s."""
    connect_timeout: float = 5.0
    """Per connection attempt (never more than what is left of ``timeout``)."""
    recv_window: RecvWindow = 5000
    """Milliseconds, > 0 and <= 60000, up to 3 decimals (microseconds, rest-api.md "Timing
    security"): an ``int``, or a ``Decimal`` such as ``Decimal("5000.5")`` (canonical: no
    trailing zeros); sent and signed exactly as ``str``/``format(.., "f")`` prints it."""
    proxy: Optional[str] = field(default=None, repr=False)  # may hold user:password
    pool_size: int = 16
    time_sync_interval: float = 300.0
    """Re-measure the server-clock offset this often (and at once on -1021)."""
    exchange_info_ttl: float = 300.0
    allow_float: bool = False
    """Convert ``float`` parameters via ``repr`` instead of rejecting them."""
    user_agent: str = f"binance_conn/{__version__}"


@dataclass(frozen=True)
class WebSocketConfig:
    """Stream and WebSocket API settings. Durations in seconds.

    Liveness (one source: :func:`binance_conn._core.health.liveness_timings`): a
    client ping after ``ping_interval`` without any frame must be answered within
    ``pong_timeout``; a stream that carried traffic and then stays silent for
    ``silence_timeout`` is probed at once.  Unless set explicitly with
    ``with_websocket(...)``, the three follow ``health_check_interval``
    (``with_health_check``): a frozen link is replaced within
    ``3 * interval + 2`` s (intervals >= 1 s) and within 10 s at the defaults;
    a quiet but healthy market never is.
    """

    ping_interval: float = DEFAULT_PING_INTERVAL
    pong_timeout: float = DEFAULT_PONG_TIMEOUT
    handshake_timeout: float = 10.0
    health_check_interval: float = DEFAULT_HEALTH_CHECK_INTERVAL
    silence_timeout: float = DEFAULT_SILENCE_TIMEOUT
    debounce: float = 1.0
    max_lifetime: float = 23.5 * 3600
    """Replace a connection (make-before-break) before Binance's 24 h limit."""
    max_streams_per_connection: int = 1024
    send_rate: float = 4.0
    """Outgoing control messages per second (Binance allows 5 incl. pongs)."""
    proxy: Optional[str] = field(default=None, repr=False)  # may hold user:password
    connection_budget: int = 300
    connection_budget_window: float = 300.0
    redundancy: int = 1
    """Live connections per market shard, each carrying the same streams (1 or 2); every
    event is delivered once (:meth:`ConfigBuilder.with_redundancy`)."""


@dataclass(frozen=True)
class BackoffConfig:
    """Exponential backoff: retry n waits ``min(max, base * 2**n) * (1 - jitter * U)``."""

    base: float = 0.5
    max: float = 30.0
    jitter: float = 0.2

    def policy(self) -> Backoff:
        return Backoff(self.base, self.max, self.jitter)


@dataclass(frozen=True)
class RetryConfig:
    """REST retries for safe requests (GET, DELETE of a known order)."""

    attempts: int = 3
    backoff: BackoffConfig = field(default_factory=BackoffConfig)


@dataclass(frozen=True)
class RateLimitConfig:
    """Client-side request-weight limiter."""

    max_wait: float = 1.0
    """Seconds a call may wait for weight before raising RateLimitError."""
    weight_limit: Optional[int] = None
    """Per-minute weight budget; None = from exchangeInfo (6000 until known)."""
    enabled: bool = True
    shared_redis_url: Optional[str] = field(default=None, repr=False)
    """``with_shared_limits``: the Redis holding the weight windows, order counts, ban gate and
    connection-attempt budget shared by every process using the same ``shared_key``
    (None: this process limits itself alone). Not in ``repr``: it may hold a password."""
    shared_key: Optional[str] = None
    """The egress key of the shared budget (None: the REST host, ``scheme://netloc``)."""


@dataclass(frozen=True)
class RecordingConfig:
    """``with_recording``: every raw frame and REST response, with receive timestamps, to
    compressed JSON Lines files (``conn.record(path)`` starts the same at run time)."""

    path: str
    """The file to write (``.jsonl.gz``); rotated files get a numbered suffix."""
    max_bytes: Optional[int] = None
    """Rotate once the compressed file reaches this size (None: no size limit)."""
    rotate_seconds: Optional[float] = None
    """Rotate after this many seconds (None: no time limit)."""


@dataclass(frozen=True)
class EventsConfig:
    """Default per-subscriber buffer."""

    buffer_size: int = 1024
    overflow: OverflowPolicy = OverflowPolicy.DROP_OLDEST


@dataclass(frozen=True)
class OrderBookConfig:
    """Local order books (``conn.on_book``; ``with_order_book``)."""

    snapshot_limit: Optional[int] = None
    """Levels per REST snapshot; None: the cheapest weight tier with twice the subscribers' depth."""
    weight_share: float = 0.5
    """Fraction of the 1-minute request-weight limit that book snapshots may fill (the rest stays for you)."""
    audit_interval: Optional[float] = None
    """Seconds between audits of each SYNCED book against a REST snapshot; None: no audit."""
    audit_depth: int = 20
    """Top levels an audit compares."""
    max_buffer: int = 5000
    """Diffs buffered per book while it waits for a snapshot (the oldest go first)."""
    fetchers: int = 2
    """Threads fetching snapshots concurrently (each paced by the weight budget)."""


@dataclass(frozen=True)
class TlsConfig:
    """TLS trust for REST and WebSocket alike (README "TLS, CA bundles and proxies").

    Precedence: ``ssl_context``, then ``ca_bundle``, then the environment
    (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, then ``SSL_CERT_FILE``/``SSL_CERT_DIR``),
    then the defaults.  The environment is read when a client or connector is built.
    Verification cannot be turned off.  A config holding an ``ssl_context`` cannot be pickled.
    """

    ca_bundle: Optional[str] = None
    """A PEM file or an OpenSSL hashed directory of CA certificates to trust instead of the defaults."""
    ssl_context: Optional[ssl.SSLContext] = field(default=None, repr=False)
    """A client context for full control (verification on); shared by REST and WebSocket."""


@dataclass(frozen=True)
class Config:
    """The whole, immutable configuration of a connector or REST client."""

    exchange: ExchangeConfig = field(default_factory=ExchangeConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    rest: RestConfig = field(default_factory=RestConfig)
    websocket: WebSocketConfig = field(default_factory=WebSocketConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    debug: bool = False
    tls: TlsConfig = field(default_factory=TlsConfig)
    order_book: OrderBookConfig = field(default_factory=OrderBookConfig)
    recording: Optional[RecordingConfig] = None

    @staticmethod
    def builder() -> "ConfigBuilder":
        """A new :class:`ConfigBuilder` with every default."""
        return ConfigBuilder()

    @property
    def backoff(self) -> BackoffConfig:
        return self.retry.backoff


def _redis_url(fieldname: str, url: Any, *, check_extra: bool = False) -> Optional[str]:
    """A ``redis://``, ``rediss://`` or ``unix://`` URL (None passes through); ``check_extra``:
    redis-py must be importable (the ``binance_conn[redis]`` extra)."""
    if url is None:
        return None
    if check_extra and importlib.util.find_spec("redis") is None:
        raise ValidationError(fieldname, "<redis url>", "needs redis-py: pip install 'binance_conn[redis]'")
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(fieldname, url, "must be a redis://, rediss:// or unix:// URL")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("redis", "rediss", "unix") or (parts.scheme != "unix" and not parts.hostname):
        raise ValidationError(fieldname, _mask_userinfo(url),
                              "must be a redis://, rediss:// or unix:// URL with a host")
    return url.strip()


def _optional_text(fieldname: str, value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(fieldname, value, "must be a non-empty string")
    return value.strip()


def check_recording_path(fieldname: str, path: str) -> None:
    """Refuse a recording path whose file cannot be created: its directory missing or not
    writable, or the path itself a directory (``conn.record()`` and :meth:`ConfigBuilder.build`;
    a disk failing later is the recorder's to retry)."""
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        raise ValidationError(fieldname, path, "is a directory: must be a file path")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValidationError(fieldname, path, f"directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValidationError(fieldname, path, f"directory {folder} is not writable")


def _recording(v: Mapping[str, Any]) -> Optional[RecordingConfig]:
    path = v.get("recording_path")
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ValidationError("recording.path", path, "must be a file path")
    check_recording_path("recording.path", str(path))
    max_bytes = v.get("recording_max_bytes")
    if max_bytes is not None:
        max_bytes = _int_range("recording.max_bytes", max_bytes, 4096)
    seconds = v.get("recording_rotate_seconds")
    return RecordingConfig(path=str(path), max_bytes=max_bytes,
                           rotate_seconds=None if seconds is None else _positive("recording.rotate_seconds", seconds))


def new_config() -> "ConfigBuilder":
    """Same as ``Config.builder()``."""
    return ConfigBuilder()


# --------------------------------------------------------------------------- validation


def _positive(fieldname: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(fieldname, value, "must be a number of seconds > 0")
    if not value > 0 or value != value or value == float("inf"):
        raise ValidationError(fieldname, value, "must be > 0 and finite")
    return float(value)


def _non_negative(fieldname: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValidationError(fieldname, value, "must be a number >= 0")
    if value < 0 or value == float("inf"):
        raise ValidationError(fieldname, value, "must be >= 0 and finite")
    return float(value)


def _int_range(fieldname: str, value: Any, low: int, high: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(fieldname, value, "must be an integer")
    if value < low or (high is not None and value > high):
        bound = f"in {low}..{high}" if high is not None else f">= {low}"
        raise ValidationError(fieldname, value, f"must be {bound}")
    return value


_STRIP_SUFFIXES = {
    "rest": ("/api/v3", "/api"),
    "ws": ("/stream", "/ws"),
    "ws_api": ("/ws-api/v3", "/ws-fapi/v1", "/ws-dapi/v1"),
}


def _base_url(fieldname: str, url: Any, schemes: Tuple[str, ...], kind: str) -> str:
    if not isinstance(url, str) or not url:
        raise ValidationError(fieldname, url, f"must be a URL string ({'/'.join(schemes)})")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise ValidationError(fieldname, url, f"not a valid URL: {exc}") from exc
    if parts.scheme.lower() not in schemes:
        raise ValidationError(fieldname, url, f"scheme must be one of {', '.join(schemes)}")
    if not parts.hostname:
        raise ValidationError(fieldname, url, "must include a host")
    if parts.query or parts.fragment:
        raise ValidationError(fieldname, url, "must be a base URL without query or fragment")
    path = parts.path.rstrip("/")
    for suffix in _STRIP_SUFFIXES[kind]:
        if path.endswith(suffix):
            path = path[: -len(suffix)].rstrip("/")
            break
    if path:
        raise ValidationError(fieldname, url, "must be a base URL scheme://host[:port] (unknown path)")
    return f"{parts.scheme.lower()}://{parts.netloc}"


def _proxy(fieldname: str, url: Any) -> Optional[str]:
    if url is None:
        return None
    if not isinstance(url, str) or not url:
        raise ValidationError(fieldname, url, "must be a proxy URL string")
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        raise ValidationError(fieldname, _mask_userinfo(url), f"not a valid proxy URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "socks4", "socks5", "socks5h") or not parts.hostname:
        raise ValidationError(fieldname, _mask_userinfo(url), "must be http(s):// or socks5:// with a host")
    if scheme.startswith("socks"):
        missing = socks_missing()
        if missing:
            raise ValidationError(fieldname, _mask_userinfo(url),
                                  f"{scheme}:// proxies need {' and '.join(missing)}: "
                                  "pip install 'requests[socks]' python-socks")
    return url


def socks_missing() -> Tuple[str, ...]:
    """The packages a SOCKS proxy needs that are not installed (REST: PySocks; WebSocket: python-socks)."""
    needed = (("socks", "PySocks"), ("python_socks", "python-socks"))
    return tuple(name for module, name in needed if importlib.util.find_spec(module) is None)


def _ca_bundle(fieldname: str, path: Any) -> Optional[str]:
    if path is None:
        return None
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValidationError(fieldname, path, "must be the path of a PEM file or a directory of CA certificates")
    if not os.path.exists(path):
        raise ValidationError(fieldname, path, "no such file or directory")
    try:  # load it once now: a bad bundle is a config error, not a connect failure later
        if os.path.isdir(path):
            ssl.create_default_context(capath=path)
        else:
            ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ValidationError(fieldname, path, f"cannot load the CA certificates ({exc})") from None
    return path


def _ssl_context(fieldname: str, ctx: Any) -> Optional[ssl.SSLContext]:
    if ctx is None:
        return None
    if not isinstance(ctx, ssl.SSLContext):
        raise ValidationError(fieldname, type(ctx).__name__, "must be an ssl.SSLContext")
    # Verification can never be turned off silently (issue 10): no CERT_NONE, no hostname opt-out.
    if ctx.verify_mode == ssl.CERT_NONE:
        raise ValidationError(fieldname, "verify_mode=CERT_NONE",
                              "must verify certificates (verify_mode CERT_REQUIRED)")
    if not ctx.check_hostname:
        raise ValidationError(fieldname, "check_hostname=False", "must check host names (check_hostname=True)")
    return ctx


def _mask_userinfo(url: str) -> str:
    """``url`` with a password in its userinfo or in a ``password=`` query parameter (redis-py
    takes both) replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    masked = url
    if parts.password:
        masked = masked.replace(f":{parts.password}@", f":{_MASK}@")
    if parts.query and "password=" in parts.query.lower():
        query = "&".join(f"{item.partition('=')[0]}={_MASK}" if item.partition("=")[0].lower() == "password"
                         else item for item in parts.query.split("&"))
        masked = masked.replace(parts.query, query)
    return masked


def mask_url(url: str) -> str:
    """``url`` safe for logs, reprs and errors: passwords (userinfo or ``password=``) as ``***``."""
    return _mask_userinfo(url)


def detect_key_type(pem: str, password: Optional[str]) -> str:
    """Parse a PEM private key and return ``"ed25519"`` or ``"rsa"``.

    Raises :class:`ValidationError` (field ``auth.private_key``) for an
    unparseable or unsupported key, or when ``cryptography`` is missing.
    """
    return Signer.from_private_key(pem, password).key_type


_UNSET: Any = object()


class ConfigBuilder:
    """Fluent, validating builder of :class:`Config`.

    Every ``with_*`` method records a value and returns the builder; nothing is
    validated until :meth:`build`, which checks all fields at once and raises
    :class:`ValidationError` for the first bad one. Not thread-safe: build a
    config on one thread, then share the (immutable) result freely.
    """

    def __init__(self) -> None:
        self._v: Dict[str, Any] = {}

    def _set(self, key: str, value: Any) -> "ConfigBuilder":
        self._v[key] = value
        return self

    def copy(self) -> "ConfigBuilder":
        """An independent builder with the same recorded values."""
        other = ConfigBuilder()
        other._v = dict(self._v)
        return other

    # -- exchange and endpoints
    def with_exchange(self, name: str) -> "ConfigBuilder":
        """A preset of :data:`EXCHANGES`: ``"binance"`` (spot, default), ``"binance-testnet"``
        (Spot Test Network), ``"binance-demo"`` (Demo Mode) or ``"binance-data"`` (public market
        data only: ``data-api.binance.vision`` / ``data-stream.binance.vision``; no user data,
        no ``conn.ws_api``, no signed REST); futures: ``"binance-usdm"``, ``"binance-usdm-testnet"``,
        ``"binance-coinm"``, ``"binance-coinm-testnet"``.  Unknown names fail at :meth:`build` (field
        ``exchange.name``, listing the known ones).  URL overrides win over the preset."""
        return self._set("exchange", name)

    def with_time_unit(self, unit: str) -> "ConfigBuilder":
        """``"MILLISECOND"`` (default) or ``"MICROSECOND"`` (any case): the unit of the time fields
        Binance sends.  MICROSECOND adds the header ``X-MBX-TIME-UNIT: MICROSECOND`` to every REST
        request and ``timeUnit=MICROSECOND`` to stream and WebSocket API URLs; events and REST
        answers then carry epoch microseconds (wire values), while the library's own clock
        handling (server offset, liveness) converts.  Field ``exchange.time_unit``."""
        return self._set("time_unit", unit)

    def with_rest_url(self, url: str) -> "ConfigBuilder":
        """REST base ``http(s)://host[:port]``; ``/api/v3`` is appended by the library."""
        return self._set("rest_url", url)

    def with_ws_url(self, url: str) -> "ConfigBuilder":
        """Market-stream base ``ws(s)://host[:port]``; a trailing ``/ws`` or ``/stream`` is stripped."""
        return self._set("ws_url", url)

    def with_ws_api_url(self, url: str) -> "ConfigBuilder":
        """WebSocket API base ``ws(s)://host[:port]``; a trailing ``/ws-api/v3`` (futures: ``/ws-fapi/v1``,
        ``/ws-dapi/v1``) is stripped.

        When :meth:`with_ws_url` is given and this is not, the WebSocket API uses the
        streams' base: an override never falls back to the production preset.
        """
        return self._set("ws_api_url", url)

    def with_proxy(self, url: Optional[str]) -> "ConfigBuilder":
        """Proxy for REST and WebSocket connections: ``http://[user:password@]host:port``.

        Percent-encode special characters in the credentials (``P%40ss`` for ``P@ss``):
        they are decoded once, for both transports.  ``socks5://`` needs PySocks and
        python-socks.  Without this, ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY`` and
        ``NO_PROXY`` apply to both transports.
        """
        return self._set("proxy", url)

    # -- TLS
    def with_ca_bundle(self, path: Optional[str]) -> "ConfigBuilder":
        """Trust the CA certificates in ``path`` (a PEM file or a hashed directory) for REST and WebSocket.

        Wins over ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``/``SSL_CERT_DIR``; checked at
        :meth:`build` (the path must exist and load).  Field ``tls.ca_bundle``.
        """
        return self._set("ca_bundle", path)

    def with_ssl_context(self, ctx: Optional[ssl.SSLContext]) -> "ConfigBuilder":
        """Full control of TLS for REST and WebSocket: a client ``ssl.SSLContext``.

        It must verify (``verify_mode`` not CERT_NONE, ``check_hostname`` True), else
        :meth:`build` raises ValidationError (field ``tls.ssl_context``): verification is
        never turned off silently.  Wins over :meth:`with_ca_bundle` and the environment.
        """
        return self._set("ssl_context", ctx)

    # -- credentials
    def with_api_key(self, key: str) -> "ConfigBuilder":
        return self._set("api_key", key)

    def with_api_secret(self, secret: str) -> "ConfigBuilder":
        """HMAC-SHA256 secret (held masked)."""
        return self._set("api_secret", secret)

    def with_private_key(self, pem: str, password: Optional[str] = None) -> "ConfigBuilder":
        """Ed25519 or RSA private key (PEM text), optionally encrypted with ``password``."""
        self._set("private_key", pem)
        return self._set("private_key_password", password)

    def from_env(self, environ: Optional[Mapping[str, str]] = None) -> "ConfigBuilder":
        """Fill fields still unset from the environment (explicit values always win).

        Reads ``BINANCE_API_KEY``, ``BINANCE_API_SECRET``, ``BINANCE_PRIVATE_KEY`` (PEM
        text) or ``BINANCE_PRIVATE_KEY_PATH``, ``BINANCE_PRIVATE_KEY_PASSWORD`` and
        ``BINANCE_CONN_DEBUG``. Resolved at :meth:`build`, so the call order does not matter.
        """
        self._v["env"] = dict(os.environ if environ is None else environ)
        return self

    # -- REST
    def with_timeout(self, timeout: float, connect_timeout: Optional[float] = None) -> "ConfigBuilder":
        """REST total deadline per call (and optionally the connect timeout per attempt), seconds.

        ``timeout`` bounds the whole call: connect, send, headers and body, every
        retry, the backoff between retries and any wait for request weight.
        """
        self._set("timeout", timeout)
        if connect_timeout is not None:
            self._set("connect_timeout", connect_timeout)
        return self

    def with_recv_window(self, ms: Any) -> "ConfigBuilder":
        """recvWindow in ms, > 0 and <= 60000 (default 5000), with up to 3 decimals for
        microsecond precision: ``5000``, ``Decimal("5000.5")`` or ``"6000.346"`` (a float is
        refused).  Sent exactly (``6000.346``, ``5000.5``; no exponent, no trailing zeros)
        with every signed REST and WebSocket API request.  Field ``rest.recv_window``."""
        return self._set("recv_window", ms)

    def with_time_sync(self, interval: float) -> "ConfigBuilder":
        """How often the server-clock offset is re-measured, seconds (default 300)."""
        return self._set("time_sync_interval", interval)

    def with_float_conversion(self, allow: bool = True) -> "ConfigBuilder":
        """Accept ``float`` parameters (converted via ``repr``) instead of rejecting them."""
        return self._set("allow_float", allow)

    def with_pool_size(self, size: int) -> "ConfigBuilder":
        """HTTP connection-pool size (default 16)."""
        return self._set("pool_size", size)

    def with_exchange_info_ttl(self, ttl: float) -> "ConfigBuilder":
        return self._set("exchange_info_ttl", ttl)

    # -- retry / backoff / rate limit
    def with_backoff(self, base: float = 0.5, max: float = 30.0, jitter: float = 0.2) -> "ConfigBuilder":  # noqa: A002
        """Exponential backoff for reconnects and REST retries (seconds, seconds, fraction)."""
        return self._set("backoff", (base, max, jitter))

    def with_retry(self, attempts: int = 3) -> "ConfigBuilder":
        """REST attempts for safe requests (1 = no retry)."""
        return self._set("attempts", attempts)

    def with_rate_limit(
        self, max_wait: float = 1.0, weight_limit: Optional[int] = None, enabled: bool = True
    ) -> "ConfigBuilder":
        """Seconds a call may wait for request weight before RateLimitError; optional budget."""
        self._set("max_wait", max_wait)
        self._set("weight_limit", weight_limit)
        return self._set("rate_limit_enabled", enabled)

    # -- websocket / liveness
    def with_health_check(self, interval: float) -> "ConfigBuilder":
        """Liveness period, seconds (default 5): REST probes, and the ping cadence and
        zombie detection of every WebSocket (``ping_interval = interval``,
        ``pong_timeout = min(2 * interval, 3)``, ``silence_timeout = 1.2 * interval``
        unless given to :meth:`with_websocket`).  A frozen link is replaced within
        ``3 * interval + 2`` s (for intervals >= 1 s; within 10 s at the default)."""
        return self._set("health_check_interval", interval)

    def with_debounce(self, settle: float) -> "ConfigBuilder":
        """Connection-event settle period, seconds; 0 disables."""
        return self._set("debounce", settle)

    def with_websocket(
        self,
        *,
        ping_interval: Optional[float] = None,
        pong_timeout: Optional[float] = None,
        handshake_timeout: Optional[float] = None,
        silence_timeout: Optional[float] = None,
        max_lifetime: Optional[float] = None,
        max_streams_per_connection: Optional[int] = None,
        send_rate: Optional[float] = None,
    ) -> "ConfigBuilder":
        """Fine-grained WebSocket settings (seconds); None keeps the default.

        ``ping_interval``, ``pong_timeout`` and ``silence_timeout`` given here override
        what :meth:`with_health_check` derives; the ones not given still follow it.
        """
        for key, value in (
            ("ping_interval", ping_interval),
            ("pong_timeout", pong_timeout),
            ("handshake_timeout", handshake_timeout),
            ("silence_timeout", silence_timeout),
            ("max_lifetime", max_lifetime),
            ("max_streams_per_connection", max_streams_per_connection),
            ("send_rate", send_rate),
        ):
            if value is not None:
                self._set(key, value)
        return self

    def with_redundancy(self, n: int = 2) -> "ConfigBuilder":
        """Keep ``n`` live connections per market shard (1: default; 2: supported), each
        subscribed to the same streams; each event is delivered once, in order per stream
        (the first arrival wins), so one failing connection loses nothing.  Costs ``n``
        connections (and connection attempts) per shard.  Validated by :meth:`build`:
        anything but 1 or 2 raises ``ValidationError("websocket.redundancy", ...)``."""
        return self._set("redundancy", n)

    # -- events / misc
    def with_event_buffer(
        self, size: int = 1024, policy: OverflowPolicy = OverflowPolicy.DROP_OLDEST
    ) -> "ConfigBuilder":
        """Default per-subscriber buffer size and overflow policy."""
        self._set("buffer_size", size)
        return self._set("overflow", policy)

    def with_order_book(self, *, snapshot_limit: Optional[int] = None, weight_share: Optional[float] = None,
                        audit_interval: Optional[float] = None, audit_depth: Optional[int] = None,
                        max_buffer: Optional[int] = None, fetchers: Optional[int] = None) -> "ConfigBuilder":
        """Local order books: snapshot size (1..5000; None: by depth), share of the weight budget
        snapshots may use (0..1], periodic audit (seconds, None: off) of the top ``audit_depth``
        levels, diffs buffered while syncing, snapshot fetcher threads.  None keeps the default."""
        for key, value in (("book_snapshot_limit", snapshot_limit), ("book_weight_share", weight_share),
                           ("book_audit_interval", audit_interval), ("book_audit_depth", audit_depth),
                           ("book_max_buffer", max_buffer), ("book_fetchers", fetchers)):
            if value is not None:
                self._set(key, value)
        return self

    def with_shared_limits(self, redis_url: str, key: Optional[str] = None) -> "ConfigBuilder":
        """Share the request-weight windows, order counts, the 429/418 ban gate and the
        connection-attempt budget through Redis with every process (on any host) using the
        same Redis and ``key`` (default: the REST host; one key per egress IP).  Needs the
        ``binance_conn[redis]`` extra.  Redis unreachable: local limiting, a WARNING, and
        reconnecting in the background; no call waits longer than ``max_wait``."""
        self._set("shared_redis_url", redis_url)
        return self._set("shared_key", key)

    def with_recording(self, path: str, *, max_bytes: Optional[int] = None,
                       rotate_seconds: Optional[float] = None) -> "ConfigBuilder":
        """Record every raw frame and REST response to ``path`` (gzip JSON Lines), rotating
        by size and/or time; replay with ``FakeBinance.replay(path)``.  A path whose directory
        does not exist or is not writable, or that is a directory, fails at :meth:`build`
        (field ``recording.path``)."""
        self._set("recording_path", path)
        self._set("recording_max_bytes", max_bytes)
        return self._set("recording_rotate_seconds", rotate_seconds)

    def with_debug(self, debug: bool = True) -> "ConfigBuilder":
        """Add stack traces to error details."""
        return self._set("debug", debug)

    # -- build
    def build(self) -> Config:
        """Validate everything and return the immutable :class:`Config`."""
        v = self._v
        env = v.get("env", {})

        name = v.get("exchange", "binance")
        if not isinstance(name, str) or name.lower() not in EXCHANGES:
            raise ValidationError("exchange.name", name, f"must be one of {', '.join(sorted(EXCHANGES))}")
        name = name.lower()
        preset = EXCHANGES[name]
        rest_url = _base_url("exchange.rest_url", v.get("rest_url", preset["rest_url"]), ("http", "https"), "rest")
        ws_url = _base_url("exchange.ws_url", v.get("ws_url", preset["ws_url"]), ("ws", "wss"), "ws")
        if "ws_api_url" in v:
            ws_api_raw = v["ws_api_url"]
        elif "ws_url" in v and preset["ws_api_url"]:
            ws_api_raw = ws_url
        else:
            ws_api_raw = preset["ws_api_url"]
        # binance-data has none (""); an explicit one is kept but never used (MARKET_DATA_ONLY refuses it)
        ws_api_url = _base_url("exchange.ws_api_url", ws_api_raw, ("ws", "wss"), "ws_api") if ws_api_raw else ""
        exchange = ExchangeConfig(name=name, rest_url=rest_url, ws_url=ws_url, ws_api_url=ws_api_url,
                                  time_unit=time_unit("exchange.time_unit", v.get("time_unit", MILLISECOND)))

        auth = self._build_auth(v, env)

        proxy = _proxy("rest.proxy", v.get("proxy"))
        connect_default = RestConfig.connect_timeout
        rest = RestConfig(
            timeout=_positive("rest.timeout", v.get("timeout", RestConfig.timeout)),
            connect_timeout=_positive("rest.connect_timeout", v.get("connect_timeout", connect_default)),
            recv_window=recv_window("rest.recv_window", v.get("recv_window", RestConfig.recv_window)),
            proxy=proxy,
            pool_size=_int_range("rest.pool_size", v.get("pool_size", RestConfig.pool_size), 1, 1000),
            time_sync_interval=_positive(
                "rest.time_sync_interval", v.get("time_sync_interval", RestConfig.time_sync_interval)
            ),
            exchange_info_ttl=_non_negative(
                "rest.exchange_info_ttl", v.get("exchange_info_ttl", RestConfig.exchange_info_ttl)
            ),
            allow_float=bool(v.get("allow_float", False)),
        )

        d = WebSocketConfig
        interval = _positive(
            "websocket.health_check_interval", v.get("health_check_interval", d.health_check_interval)
        )
        # Liveness follows the health-check interval unless set explicitly (one derivation: _core.health).
        derived = liveness_timings(interval)
        websocket = WebSocketConfig(
            ping_interval=_positive("websocket.ping_interval", v.get("ping_interval", derived.ping_interval)),
            pong_timeout=_positive("websocket.pong_timeout", v.get("pong_timeout", derived.pong_timeout)),
            handshake_timeout=_positive(
                "websocket.handshake_timeout", v.get("handshake_timeout", d.handshake_timeout)
            ),
            health_check_interval=interval,
            silence_timeout=_positive(
                "websocket.silence_timeout", v.get("silence_timeout", derived.silence_timeout)
            ),
            debounce=_non_negative("websocket.debounce", v.get("debounce", d.debounce)),
            max_lifetime=_positive("websocket.max_lifetime", v.get("max_lifetime", d.max_lifetime)),
            max_streams_per_connection=_int_range(
                "websocket.max_streams_per_connection",
                v.get("max_streams_per_connection", d.max_streams_per_connection),
                1,
                1024,
            ),
            send_rate=_positive("websocket.send_rate", v.get("send_rate", d.send_rate)),
            proxy=proxy,
            redundancy=_int_range("websocket.redundancy", v.get("redundancy", d.redundancy), 1, 2),
        )
        if websocket.send_rate >= 5:
            raise ValidationError(
                "websocket.send_rate", websocket.send_rate, "must be < 5 (Binance's limit incl. pongs)"
            )

        base, max_, jitter = v.get("backoff", (BackoffConfig.base, BackoffConfig.max, BackoffConfig.jitter))
        base = _positive("retry.backoff.base", base)
        max_ = _positive("retry.backoff.max", max_)
        if base > max_:
            raise ValidationError("retry.backoff.base", base, f"must be <= backoff max ({max_})")
        if isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or not 0 <= jitter <= 1:
            raise ValidationError("retry.backoff.jitter", jitter, "must be a fraction in 0..1")
        retry = RetryConfig(
            attempts=_int_range("retry.attempts", v.get("attempts", RetryConfig.attempts), 1, 100),
            backoff=BackoffConfig(base=base, max=max_, jitter=float(jitter)),
        )

        weight_limit = v.get("weight_limit")
        if weight_limit is not None:
            weight_limit = _int_range("rate_limit.weight_limit", weight_limit, 1)
        rate_limit = RateLimitConfig(
            max_wait=_non_negative("rate_limit.max_wait", v.get("max_wait", RateLimitConfig.max_wait)),
            weight_limit=weight_limit,
            enabled=bool(v.get("rate_limit_enabled", True)),
            shared_redis_url=_redis_url("rate_limit.shared_redis_url", v.get("shared_redis_url"), check_extra=True),
            shared_key=_optional_text("rate_limit.shared_key", v.get("shared_key")),
        )
        recording = _recording(v)

        overflow = v.get("overflow", OverflowPolicy.DROP_OLDEST)
        try:
            overflow = OverflowPolicy(overflow)
        except ValueError:
            raise ValidationError("events.overflow", overflow, "must be DROP_OLDEST or BLOCK") from None
        events = EventsConfig(
            buffer_size=_int_range("events.buffer_size", v.get("buffer_size", EventsConfig.buffer_size), 1),
            overflow=overflow,
        )

        tls = TlsConfig(ca_bundle=_ca_bundle("tls.ca_bundle", v.get("ca_bundle")),
                        ssl_context=_ssl_context("tls.ssl_context", v.get("ssl_context")))

        ob = OrderBookConfig
        limit = v.get("book_snapshot_limit")
        share = v.get("book_weight_share", ob.weight_share)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
            raise ValidationError("order_book.weight_share", share, "must be a fraction in (0, 1]")
        audit = v.get("book_audit_interval")
        order_book = OrderBookConfig(
            snapshot_limit=None if limit is None else _int_range("order_book.snapshot_limit", limit, 1, 5000),
            weight_share=float(share),
            audit_interval=None if audit is None else _positive("order_book.audit_interval", audit),
            audit_depth=_int_range("order_book.audit_depth", v.get("book_audit_depth", ob.audit_depth), 1, 5000),
            max_buffer=_int_range("order_book.max_buffer", v.get("book_max_buffer", ob.max_buffer), 1),
            fetchers=_int_range("order_book.fetchers", v.get("book_fetchers", ob.fetchers), 1, 16),
        )

        debug = v.get("debug")
        if debug is None:
            debug = env.get("BINANCE_CONN_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")
        return Config(
            exchange=exchange,
            auth=auth,
            rest=rest,
            websocket=websocket,
            retry=retry,
            rate_limit=rate_limit,
            events=events,
            debug=bool(debug),
            tls=tls,
            order_book=order_book,
            recording=recording,
        )

    @staticmethod
    def _build_auth(v: Mapping[str, Any], env: Mapping[str, str]) -> AuthConfig:
        api_key = v.get("api_key") or env.get("BINANCE_API_KEY") or None
        secret = v.get("api_secret")
        pem = v.get("private_key")
        password = v.get("private_key_password")
        # Environment fills only what is still unset; an explicit private key means an env
        # secret is not wanted (and vice versa), so the two never collide.
        if secret is None and pem is None:
            secret = env.get("BINANCE_API_SECRET") or None
            if secret is None:
                pem = env.get("BINANCE_PRIVATE_KEY") or None
                path = env.get("BINANCE_PRIVATE_KEY_PATH")
                if pem is None and path:
                    try:
                        with open(path, encoding="utf-8") as fh:
                            pem = fh.read()
                    except OSError as exc:
                        raise ValidationError(
                            "auth.private_key_path", path, f"cannot read the key file ({exc.strerror})"
                        ) from None
        if pem is not None and password is None:
            password = env.get("BINANCE_PRIVATE_KEY_PASSWORD") or None

        if api_key is not None and (not isinstance(api_key, str) or not api_key.strip()):
            raise ValidationError("auth.api_key", api_key, "must be a non-empty string")
        for fieldname, value in (("auth.api_secret", secret), ("auth.private_key", pem)):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValidationError(fieldname, _MASK, "must be a non-empty string")
        if secret is not None and pem is not None:
            raise ValidationError("auth.api_secret", _MASK, "give either an HMAC secret or a private key, not both")
        if (secret is not None or pem is not None) and not api_key:
            fieldname = "auth.api_secret" if secret is not None else "auth.private_key"
            raise ValidationError("auth.api_key", None, f"an API key is required with {fieldname}")
        # The key is parsed exactly once, here: the signer is kept on the AuthConfig and shared.
        signer = build_signer(secret=secret, private_key=pem, password=password)
        auth = AuthConfig(
            api_key=api_key.strip() if isinstance(api_key, str) else None,
            api_secret=Secret(secret) if secret is not None else None,
            private_key=Secret(pem) if pem is not None else None,
            private_key_password=Secret(password) if password else None,
            key_type=signer.key_type if signer is not None else None,
        )
        object.__setattr__(auth, "_signer", signer)
        return auth

    def __repr__(self) -> str:
        shown = {
            k: (
                _MASK
                if k in ("api_secret", "private_key", "private_key_password") and val
                else _mask_userinfo(val)
                if k in ("proxy", "shared_redis_url") and isinstance(val, str)
                else val
            )
            for k, val in self._v.items()
            if k != "env"
        }
        return f"ConfigBuilder({shown})"


def replace(config: Config, **changes: Any) -> Config:
    """``dataclasses.replace`` re-exported for convenience (no re-validation)."""
    return dataclasses.replace(config, **changes)
