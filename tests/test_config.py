"""Config / ConfigBuilder: validation rules, presets, URL handling, from_env, immutability."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, List, Optional

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from binance_conn.config import (
    EXCHANGES,
    AuthConfig,
    BackoffConfig,
    Config,
    ConfigBuilder,
    EventsConfig,
    ExchangeConfig,
    RateLimitConfig,
    RestConfig,
    RetryConfig,
    Secret,
    WebSocketConfig,
    new_config,
)
from binance_conn.enums import OverflowPolicy
from binance_conn.errors import ValidationError

KEY = "test-api-key-0123456789"
HMAC = "hmac-secret-value-9f8e7d6c"


def _pem(key: object, password: "bytes | None" = None) -> str:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
    ).decode()


@pytest.fixture(scope="module")
def ed25519_pem() -> str:
    return _pem(ed25519.Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def _fails(builder: ConfigBuilder) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        builder.build()
    return info.value


# --------------------------------------------------------------------------- defaults / builder


def test_builder_entry_points_return_config_builder() -> None:
    assert isinstance(Config.builder(), ConfigBuilder)
    assert isinstance(new_config(), ConfigBuilder)
    assert Config.builder().build() == new_config().build()


def test_defaults() -> None:
    cfg = Config.builder().build()
    assert cfg.exchange.name == "binance"
    assert cfg.rest.timeout == 10.0
    assert cfg.rest.recv_window == 5000
    assert cfg.retry.attempts == 3
    assert cfg.backoff == BackoffConfig(0.5, 30.0, 0.2)
    assert cfg.events.buffer_size == 1024
    assert cfg.events.overflow is OverflowPolicy.DROP_OLDEST
    assert cfg.websocket.health_check_interval == 5.0
    assert cfg.websocket.debounce == 1.0
    assert cfg.rate_limit.max_wait == 1.0
    assert cfg.debug is False
    assert cfg.auth.api_key is None and cfg.auth.key_type is None
    assert not cfg.auth.has_credentials


def test_every_api_md_builder_method_is_recorded() -> None:
    cfg = (
        Config.builder()
        .with_exchange("binance")
        .with_api_key(KEY)
        .with_api_secret(HMAC)
        .with_rest_url("http://127.0.0.1:8080")
        .with_ws_url("ws://127.0.0.1:8081")
        .with_ws_api_url("ws://127.0.0.1:8082")
        .with_proxy("http://proxy:3128")
        .with_timeout(7.5, connect_timeout=2.0)
        .with_recv_window(6000)
        .with_backoff(base=0.25, max=8.0, jitter=0.5)
        .with_retry(attempts=5)
        .with_rate_limit(max_wait=2.0, weight_limit=1200, enabled=False)
        .with_health_check(interval=3.0)
        .with_debounce(0)
        .with_event_buffer(16, OverflowPolicy.BLOCK)
        .with_time_sync(60.0)
        .with_pool_size(4)
        .with_float_conversion()
        .with_websocket(ping_interval=2.0, pong_timeout=1.0, max_streams_per_connection=10, send_rate=3.0)
        .with_debug(True)
        .build()
    )
    assert cfg.exchange == ExchangeConfig(
        "binance", "http://127.0.0.1:8080", "ws://127.0.0.1:8081", "ws://127.0.0.1:8082"
    )
    assert cfg.auth.api_key == KEY and cfg.auth.key_type == "hmac"
    assert cfg.auth.api_secret is not None and cfg.auth.api_secret.reveal() == HMAC
    assert cfg.auth.has_credentials
    assert cfg.rest.proxy == cfg.websocket.proxy == "http://proxy:3128"
    assert (cfg.rest.timeout, cfg.rest.connect_timeout, cfg.rest.recv_window) == (7.5, 2.0, 6000)
    assert cfg.backoff == BackoffConfig(0.25, 8.0, 0.5)
    assert cfg.retry.attempts == 5
    assert cfg.rate_limit == RateLimitConfig(max_wait=2.0, weight_limit=1200, enabled=False)
    assert cfg.websocket.health_check_interval == 3.0
    assert cfg.websocket.debounce == 0.0
    assert cfg.events == EventsConfig(16, OverflowPolicy.BLOCK)
    assert cfg.rest.time_sync_interval == 60.0
    assert cfg.rest.pool_size == 4
    assert cfg.rest.allow_float is True
    assert (cfg.websocket.ping_interval, cfg.websocket.pong_timeout) == (2.0, 1.0)
    assert cfg.websocket.max_streams_per_connection == 10
    assert cfg.websocket.send_rate == 3.0
    assert cfg.debug is True


def test_overflow_policy_accepts_its_string_value() -> None:
    cfg = Config.builder().with_event_buffer(8, "BLOCK").build()  # type: ignore[arg-type]
    assert cfg.events.overflow is OverflowPolicy.BLOCK
    err = _fails(Config.builder().with_event_buffer(8, "DROP_NEWEST"))  # type: ignore[arg-type]
    assert err.field == "events.overflow" and err.value == "DROP_NEWEST"


def test_builder_copy_is_independent() -> None:
    b = Config.builder().with_timeout(3.0)
    c = b.copy().with_timeout(4.0)
    assert b.build().rest.timeout == 3.0
    assert c.build().rest.timeout == 4.0


def test_build_twice_gives_equal_but_independent_configs() -> None:
    b = Config.builder().with_recv_window(100)
    first = b.build()
    b.with_recv_window(200)
    assert first.rest.recv_window == 100
    assert b.build().rest.recv_window == 200


# --------------------------------------------------------------------------- validation rules


def test_unknown_exchange() -> None:
    err = _fails(Config.builder().with_exchange("kraken"))
    assert err.field == "exchange.name"
    assert err.value == "kraken"
    assert "binance" in err.constraint and "binance-testnet" in err.constraint
    assert isinstance(err, ValueError)


def test_exchange_name_case_insensitive() -> None:
    assert Config.builder().with_exchange("Binance-Testnet").build().exchange.name == "binance-testnet"


@pytest.mark.parametrize("bad", [0, -1, -0.5, 0.0, float("nan"), float("inf"), "10", True])
@pytest.mark.parametrize(
    "setter, field",
    [
        (lambda b, v: b.with_timeout(v), "rest.timeout"),
        (lambda b, v: b.with_timeout(1.0, connect_timeout=v), "rest.connect_timeout"),
        (lambda b, v: b.with_time_sync(v), "rest.time_sync_interval"),
        (lambda b, v: b.with_health_check(v), "websocket.health_check_interval"),
        (lambda b, v: b.with_websocket(ping_interval=v), "websocket.ping_interval"),
        (lambda b, v: b.with_websocket(pong_timeout=v), "websocket.pong_timeout"),
        (lambda b, v: b.with_websocket(handshake_timeout=v), "websocket.handshake_timeout"),
        (lambda b, v: b.with_websocket(silence_timeout=v), "websocket.silence_timeout"),
        (lambda b, v: b.with_websocket(max_lifetime=v), "websocket.max_lifetime"),
    ],
)
def test_non_positive_or_non_finite_durations_rejected(setter, field, bad) -> None:  # type: ignore[no-untyped-def]
    err = _fails(setter(Config.builder(), bad))
    assert err.field == field
    if isinstance(bad, float) and math.isnan(bad):
        assert math.isnan(err.value)
    else:
        assert err.value == bad and type(err.value) is type(bad)
    assert ">" in err.constraint or "number" in err.constraint


def test_none_timeout_rejected() -> None:
    err = _fails(Config.builder().with_timeout(None))  # type: ignore[arg-type]
    assert err.field == "rest.timeout" and err.value is None


@pytest.mark.parametrize("bad", [-1, -0.001, float("nan")])
@pytest.mark.parametrize(
    "setter, field",
    [
        (lambda b, v: b.with_debounce(v), "websocket.debounce"),
        (lambda b, v: b.with_rate_limit(max_wait=v), "rate_limit.max_wait"),
        (lambda b, v: b.with_exchange_info_ttl(v), "rest.exchange_info_ttl"),
    ],
)
def test_negative_non_negative_fields_rejected(setter, field, bad) -> None:  # type: ignore[no-untyped-def]
    err = _fails(setter(Config.builder(), bad))
    assert err.field == field
    assert ">=" in err.constraint


def test_zero_debounce_and_zero_max_wait_allowed() -> None:
    cfg = Config.builder().with_debounce(0).with_rate_limit(max_wait=0).build()
    assert cfg.websocket.debounce == 0.0 and cfg.rate_limit.max_wait == 0.0


@pytest.mark.parametrize("bad", [0, -1, 60001, 10**9, True, 5000.0, "5000.0001", "abc"])
def test_recv_window_outside_range(bad) -> None:  # type: ignore[no-untyped-def]
    err = _fails(Config.builder().with_recv_window(bad))
    assert err.field == "rest.recv_window"
    assert err.value == bad and type(err.value) is type(bad)
    assert "60000" in err.constraint or "decimal" in err.constraint


@pytest.mark.parametrize("ok", [1, 60000, 5000, "5000"])
def test_recv_window_bounds_inclusive(ok: int) -> None:
    assert Config.builder().with_recv_window(ok).build().rest.recv_window == int(ok)


@pytest.mark.parametrize("bad", [0, -5])
def test_buffer_size_below_one(bad: int) -> None:
    err = _fails(Config.builder().with_event_buffer(bad))
    assert err.field == "events.buffer_size"
    assert err.value == bad
    assert ">= 1" in err.constraint


def test_buffer_size_one_ok() -> None:
    assert Config.builder().with_event_buffer(1).build().events.buffer_size == 1


def test_retry_attempts_must_be_positive_int() -> None:
    err = _fails(Config.builder().with_retry(attempts=0))
    assert err.field == "retry.attempts" and err.value == 0


def test_backoff_base_above_max() -> None:
    err = _fails(Config.builder().with_backoff(base=5.0, max=1.0, jitter=0.1))
    assert err.field == "retry.backoff.base"
    assert err.value == 5.0
    assert "max" in err.constraint


def test_backoff_base_equal_max_ok() -> None:
    assert Config.builder().with_backoff(base=2.0, max=2.0, jitter=0.0).build().backoff.max == 2.0


@pytest.mark.parametrize("bad", [-0.01, 1.01, 2, float("nan"), "0.2", True])
def test_backoff_jitter_outside_unit_interval(bad) -> None:  # type: ignore[no-untyped-def]
    err = _fails(Config.builder().with_backoff(base=0.5, max=30.0, jitter=bad))
    assert err.field == "retry.backoff.jitter"
    if isinstance(bad, float) and math.isnan(bad):
        assert math.isnan(err.value)
    else:
        assert err.value == bad
    assert "0..1" in err.constraint


@pytest.mark.parametrize("ok", [0, 0.0, 0.5, 1, 1.0])
def test_backoff_jitter_bounds_inclusive(ok: float) -> None:
    assert Config.builder().with_backoff(jitter=ok).build().backoff.jitter == float(ok)


@pytest.mark.parametrize("field_arg", ["base", "max"])
@pytest.mark.parametrize("bad", [0, -1])
def test_backoff_non_positive(field_arg: str, bad: float) -> None:
    kwargs = {"base": 0.5, "max": 30.0, "jitter": 0.2, field_arg: bad}
    err = _fails(Config.builder().with_backoff(**kwargs))
    assert err.field == f"retry.backoff.{field_arg}"
    assert err.value == bad


def test_send_rate_must_stay_under_binance_limit() -> None:
    err = _fails(Config.builder().with_websocket(send_rate=5))
    assert err.field == "websocket.send_rate"
    assert "< 5" in err.constraint


def test_secret_without_key() -> None:
    err = _fails(Config.builder().with_api_secret(HMAC))
    assert err.field == "auth.api_key"
    assert err.value is None
    assert "auth.api_secret" in err.constraint
    assert HMAC not in str(err) and HMAC not in repr(err)


def test_private_key_without_key(ed25519_pem: str) -> None:
    err = _fails(Config.builder().with_private_key(ed25519_pem))
    assert err.field == "auth.api_key"
    assert "auth.private_key" in err.constraint
    assert ed25519_pem not in str(err)


def test_both_hmac_secret_and_private_key(ed25519_pem: str) -> None:
    err = _fails(Config.builder().with_api_key(KEY).with_api_secret(HMAC).with_private_key(ed25519_pem))
    assert err.field == "auth.api_secret"
    assert err.value == "***"
    assert "not both" in err.constraint
    assert HMAC not in str(err)
    assert "PRIVATE KEY" not in str(err)


def test_empty_api_key_rejected() -> None:
    err = _fails(Config.builder().with_api_key("   "))
    assert err.field == "auth.api_key" and err.value == "   "


@pytest.mark.parametrize("bad", ["", "   ", 12345])
def test_blank_or_non_string_secret_rejected_masked(bad) -> None:  # type: ignore[no-untyped-def]
    err = _fails(Config.builder().with_api_key(KEY).with_api_secret(bad))
    assert err.field == "auth.api_secret"
    assert err.value == "***"
    assert "12345" not in str(err)


def test_api_key_alone_is_fine() -> None:
    cfg = Config.builder().with_api_key(f"  {KEY} ").build()
    assert cfg.auth.api_key == KEY
    assert cfg.auth.key_type is None
    assert not cfg.auth.has_credentials


# --------------------------------------------------------------------------- private keys


def test_ed25519_key_type_detected(ed25519_pem: str) -> None:
    cfg = Config.builder().with_api_key(KEY).with_private_key(ed25519_pem).build()
    assert cfg.auth.key_type == "ed25519"
    assert cfg.auth.private_key == Secret(ed25519_pem)
    assert cfg.auth.api_secret is None
    assert cfg.auth.has_credentials


def test_rsa_key_type_detected(rsa_pem: str) -> None:
    cfg = Config.builder().with_api_key(KEY).with_private_key(rsa_pem).build()
    assert cfg.auth.key_type == "rsa"


def test_traditional_openssl_rsa_pem_detected() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert Config.builder().with_api_key(KEY).with_private_key(pem).build().auth.key_type == "rsa"


def test_encrypted_key_with_password() -> None:
    pem = _pem(ed25519.Ed25519PrivateKey.generate(), b"hunter2-pw")
    assert "ENCRYPTED" in pem
    cfg = Config.builder().with_api_key(KEY).with_private_key(pem, password="hunter2-pw").build()
    assert cfg.auth.key_type == "ed25519"
    assert cfg.auth.private_key_password == Secret("hunter2-pw")
    assert "hunter2-pw" not in repr(cfg) and "hunter2-pw" not in str(cfg)


@pytest.mark.parametrize("password", [None, "wrong-password"])
def test_encrypted_key_without_or_with_wrong_password(password: "str | None") -> None:
    pem = _pem(ed25519.Ed25519PrivateKey.generate(), b"right-password")
    err = _fails(Config.builder().with_api_key(KEY).with_private_key(pem, password=password))
    assert err.field == "auth.private_key"
    assert err.value == "***"
    assert "parseable" in err.constraint or "password" in err.constraint
    assert "right-password" not in str(err)
    if password:
        assert password not in str(err)


@pytest.mark.parametrize(
    "pem",
    [
        "not a key at all",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_unparseable_private_key(pem: str) -> None:
    err = _fails(Config.builder().with_api_key(KEY).with_private_key(pem))
    assert err.field == "auth.private_key"
    assert err.value == "***"
    assert err.constraint
    assert pem.strip() not in str(err)
    # No key material leaks through a chained cause either.
    assert err.__cause__ is None


def test_small_rsa_key_rejected() -> None:
    pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    err = _fails(Config.builder().with_api_key(KEY).with_private_key(pem))
    assert err.field == "auth.private_key"
    assert "2048" in err.constraint


def test_unsupported_key_algorithm_rejected() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    err = _fails(Config.builder().with_api_key(KEY).with_private_key(pem))
    assert err.field == "auth.private_key"
    assert "Ed25519" in err.constraint


# --------------------------------------------------------------------------- URLs and presets


def test_binance_preset() -> None:
    ex = Config.builder().with_exchange("binance").build().exchange
    assert ex == ExchangeConfig(
        name="binance",
        rest_url="https://api.binance.com",
        ws_url="wss://stream.binance.com:9443",
        ws_api_url="wss://ws-api.binance.com:443",
    )


def test_binance_testnet_preset() -> None:
    ex = Config.builder().with_exchange("binance-testnet").build().exchange
    assert ex.name == "binance-testnet"
    assert ex.rest_url == "https://testnet.binance.vision"
    assert ex.ws_url == "wss://stream.testnet.binance.vision"
    assert ex.ws_api_url == "wss://ws-api.testnet.binance.vision"
    # Legacy testnet hosts were removed May 2025 (reference section 1).
    assert "wss://testnet.binance.vision" not in (ex.ws_url, ex.ws_api_url)


def test_presets_table_has_exactly_the_spot_and_futures_exchanges() -> None:
    from binance_conn.config import PRODUCTS
    assert set(EXCHANGES) == {"binance", "binance-testnet", "binance-demo", "binance-data", "binance-usdm",
                              "binance-usdm-testnet", "binance-coinm", "binance-coinm-testnet"}
    assert set(PRODUCTS) == set(EXCHANGES)
    for name in EXCHANGES:
        product = Config.builder().with_exchange(name).build().exchange.product
        assert product == ("usdm" if "usdm" in name else "coinm" if "coinm" in name else "spot"), name


def test_url_overrides_replace_preset() -> None:
    ex = Config.builder().with_exchange("binance-testnet").with_rest_url("http://127.0.0.1:8080").build().exchange
    assert ex.rest_url == "http://127.0.0.1:8080"
    assert ex.ws_url == "wss://stream.testnet.binance.vision"  # untouched


@pytest.mark.parametrize("url", ["ws://127.0.0.1:1", "wss://api.binance.com", "ftp://h", "api.binance.com", "", 42])
def test_rest_url_scheme_must_be_http(url) -> None:  # type: ignore[no-untyped-def]
    err = _fails(Config.builder().with_rest_url(url))
    assert err.field == "exchange.rest_url"
    assert err.value == url
    assert "http" in err.constraint


@pytest.mark.parametrize(
    "setter, field", [("with_ws_url", "exchange.ws_url"), ("with_ws_api_url", "exchange.ws_api_url")]
)
@pytest.mark.parametrize("url", ["http://127.0.0.1:1", "https://stream.binance.com", "tcp://h:1", "stream.binance.com"])
def test_ws_urls_scheme_must_be_ws(setter: str, field: str, url: str) -> None:
    err = _fails(getattr(Config.builder(), setter)(url))
    assert err.field == field
    assert err.value == url
    assert "ws" in err.constraint


def test_url_without_host_rejected() -> None:
    err = _fails(Config.builder().with_rest_url("http://"))
    assert err.field == "exchange.rest_url"


def test_url_with_query_or_unknown_path_rejected() -> None:
    assert _fails(Config.builder().with_rest_url("http://h?x=1")).field == "exchange.rest_url"
    assert _fails(Config.builder().with_ws_url("ws://h/foo")).field == "exchange.ws_url"
    # /ws is a streams suffix, not a WebSocket API one.
    assert _fails(Config.builder().with_ws_api_url("ws://h/ws")).field == "exchange.ws_api_url"


@pytest.mark.parametrize(
    "given, expected",
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://api.binance.com/api/v3", "https://api.binance.com"),
        ("https://api.binance.com/api/v3/", "https://api.binance.com"),
        ("HTTPS://api.binance.com", "https://api.binance.com"),
    ],
)
def test_rest_url_normalized(given: str, expected: str) -> None:
    assert Config.builder().with_rest_url(given).build().exchange.rest_url == expected


@pytest.mark.parametrize(
    "given, expected",
    [
        ("ws://127.0.0.1:8081", "ws://127.0.0.1:8081"),
        ("ws://127.0.0.1:8081/", "ws://127.0.0.1:8081"),
        ("ws://127.0.0.1:8081/ws", "ws://127.0.0.1:8081"),
        ("ws://127.0.0.1:8081/ws/", "ws://127.0.0.1:8081"),
        ("wss://stream.binance.com:9443/stream", "wss://stream.binance.com:9443"),
        ("wss://stream.binance.com:9443/stream/", "wss://stream.binance.com:9443"),
    ],
)
def test_ws_url_suffix_stripped(given: str, expected: str) -> None:
    assert Config.builder().with_ws_url(given).build().exchange.ws_url == expected


@pytest.mark.parametrize(
    "given, expected",
    [
        ("wss://ws-api.binance.com:443/ws-api/v3", "wss://ws-api.binance.com:443"),
        ("wss://ws-api.binance.com:443/ws-api/v3/", "wss://ws-api.binance.com:443"),
        ("ws://127.0.0.1:8082/", "ws://127.0.0.1:8082"),
        ("ws://127.0.0.1:8082", "ws://127.0.0.1:8082"),
    ],
)
def test_ws_api_url_suffix_stripped(given: str, expected: str) -> None:
    assert Config.builder().with_ws_api_url(given).build().exchange.ws_api_url == expected


@pytest.mark.parametrize("exchange", ["binance", "binance-testnet"])
def test_ws_api_url_defaults_to_ws_url_when_only_ws_url_overridden(exchange: str) -> None:
    ex = Config.builder().with_exchange(exchange).with_ws_url("ws://127.0.0.1:8081/ws").build().exchange
    assert ex.ws_url == "ws://127.0.0.1:8081"
    assert ex.ws_api_url == "ws://127.0.0.1:8081"
    assert "binance" not in ex.ws_api_url


def test_explicit_ws_api_url_wins_over_ws_url_default() -> None:
    ex = (
        Config.builder()
        .with_ws_api_url("ws://127.0.0.1:9000/ws-api/v3")
        .with_ws_url("ws://127.0.0.1:8081")
        .build()
        .exchange
    )
    assert ex.ws_api_url == "ws://127.0.0.1:9000"


def test_ws_api_url_alone_keeps_stream_preset() -> None:
    ex = Config.builder().with_ws_api_url("ws://127.0.0.1:9000").build().exchange
    assert ex.ws_url == EXCHANGES["binance"]["ws_url"]
    assert ex.ws_api_url == "ws://127.0.0.1:9000"


@pytest.mark.parametrize("proxy", ["ftp://proxy:21", "proxy:3128", ""])
def test_bad_proxy_rejected(proxy: str) -> None:
    err = _fails(Config.builder().with_proxy(proxy))
    assert err.field == "rest.proxy"


def test_bad_proxy_password_masked_in_error() -> None:
    err = _fails(Config.builder().with_proxy("ftp://user:proxy-pass-77@proxy:21"))
    assert "proxy-pass-77" not in str(err)
    assert "proxy-pass-77" not in repr(err.value)


# --------------------------------------------------------------------------- from_env


def test_from_env_fills_credentials() -> None:
    cfg = Config.builder().from_env(environ={"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": HMAC}).build()
    assert cfg.auth.api_key == KEY
    assert cfg.auth.api_secret == Secret(HMAC)
    assert cfg.auth.key_type == "hmac"


def test_from_env_empty_environ_gives_defaults() -> None:
    assert Config.builder().from_env(environ={}).build() == Config.builder().build()


@pytest.mark.parametrize("env_first", [True, False])
def test_from_env_explicit_values_win_whatever_the_order(env_first: bool) -> None:
    env = {"BINANCE_API_KEY": "env-key", "BINANCE_API_SECRET": "env-secret", "BINANCE_CONN_DEBUG": "1"}
    b = Config.builder()
    if env_first:
        b.from_env(environ=env)
    b.with_api_key(KEY).with_api_secret(HMAC).with_debug(False)
    if not env_first:
        b.from_env(environ=env)
    cfg = b.build()
    assert cfg.auth.api_key == KEY
    assert cfg.auth.api_secret == Secret(HMAC)
    assert cfg.debug is False


@pytest.mark.parametrize("env_first", [True, False])
def test_from_env_only_fills_unset_fields(env_first: bool) -> None:
    env = {"BINANCE_API_KEY": "env-key", "BINANCE_API_SECRET": "env-secret"}
    b = Config.builder()
    if env_first:
        b.from_env(environ=env)
    b.with_api_secret(HMAC)
    if not env_first:
        b.from_env(environ=env)
    cfg = b.build()
    assert cfg.auth.api_key == "env-key"  # unset: filled
    assert cfg.auth.api_secret == Secret(HMAC)  # set: kept


@pytest.mark.parametrize("env_first", [True, False])
def test_env_secret_never_collides_with_explicit_private_key(env_first: bool, ed25519_pem: str) -> None:
    env = {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": "env-secret"}
    b = Config.builder()
    if env_first:
        b.from_env(environ=env)
    b.with_private_key(ed25519_pem)
    if not env_first:
        b.from_env(environ=env)
    cfg = b.build()
    assert cfg.auth.key_type == "ed25519"
    assert cfg.auth.api_secret is None


def test_env_private_key_never_collides_with_explicit_secret(ed25519_pem: str) -> None:
    env = {"BINANCE_API_KEY": KEY, "BINANCE_PRIVATE_KEY": ed25519_pem}
    cfg = Config.builder().with_api_secret(HMAC).from_env(environ=env).build()
    assert cfg.auth.key_type == "hmac"
    assert cfg.auth.private_key is None


def test_from_env_private_key_pem_text_with_password() -> None:
    pem = _pem(ed25519.Ed25519PrivateKey.generate(), b"env-pw-123")
    env = {"BINANCE_API_KEY": KEY, "BINANCE_PRIVATE_KEY": pem, "BINANCE_PRIVATE_KEY_PASSWORD": "env-pw-123"}
    cfg = Config.builder().from_env(environ=env).build()
    assert cfg.auth.key_type == "ed25519"
    assert cfg.auth.private_key_password == Secret("env-pw-123")


def test_from_env_private_key_path(tmp_path, rsa_pem: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "key.pem"
    path.write_text(rsa_pem, encoding="utf-8")
    cfg = Config.builder().from_env(environ={"BINANCE_API_KEY": KEY, "BINANCE_PRIVATE_KEY_PATH": str(path)}).build()
    assert cfg.auth.key_type == "rsa"
    assert cfg.auth.private_key == Secret(rsa_pem)


def test_from_env_private_key_path_missing_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = str(tmp_path / "nope.pem")
    err = _fails(Config.builder().from_env(environ={"BINANCE_API_KEY": KEY, "BINANCE_PRIVATE_KEY_PATH": missing}))
    assert err.field == "auth.private_key_path"
    assert err.value == missing


def test_from_env_path_ignored_when_pem_text_given(tmp_path, ed25519_pem: str) -> None:  # type: ignore[no-untyped-def]
    env = {
        "BINANCE_API_KEY": KEY,
        "BINANCE_PRIVATE_KEY": ed25519_pem,
        "BINANCE_PRIVATE_KEY_PATH": str(tmp_path / "does-not-exist.pem"),
    }
    assert Config.builder().from_env(environ=env).build().auth.key_type == "ed25519"


def test_explicit_password_wins_over_env_password() -> None:
    pem = _pem(ed25519.Ed25519PrivateKey.generate(), b"explicit-pw")
    env = {"BINANCE_API_KEY": KEY, "BINANCE_PRIVATE_KEY_PASSWORD": "env-pw"}
    cfg = Config.builder().from_env(environ=env).with_private_key(pem, password="explicit-pw").build()
    assert cfg.auth.private_key_password == Secret("explicit-pw")


def test_env_secret_without_env_key_fails() -> None:
    err = _fails(Config.builder().from_env(environ={"BINANCE_API_SECRET": HMAC}))
    assert err.field == "auth.api_key"
    assert HMAC not in str(err)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("0", False),
        ("", False),
        ("no", False),
    ],
)
def test_from_env_debug_flag(value: str, expected: bool) -> None:
    assert Config.builder().from_env(environ={"BINANCE_CONN_DEBUG": value}).build().debug is expected


def test_explicit_debug_true_wins_over_env_false() -> None:
    assert Config.builder().with_debug(True).from_env(environ={"BINANCE_CONN_DEBUG": "0"}).build().debug is True


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", "os-env-key")
    monkeypatch.delenv("BINANCE_API_SECRET", raising=False)
    monkeypatch.delenv("BINANCE_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("BINANCE_PRIVATE_KEY_PATH", raising=False)
    assert Config.builder().from_env().build().auth.api_key == "os-env-key"


def test_env_not_read_without_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", "os-env-key")
    monkeypatch.setenv("BINANCE_CONN_DEBUG", "1")
    cfg = Config.builder().build()
    assert cfg.auth.api_key is None and cfg.debug is False


# --------------------------------------------------------------------------- immutability


def _all_config_objects(cfg: Config) -> list:
    return [
        cfg,
        cfg.exchange,
        cfg.auth,
        cfg.rest,
        cfg.websocket,
        cfg.retry,
        cfg.retry.backoff,
        cfg.rate_limit,
        cfg.events,
    ]


def test_every_config_field_is_frozen() -> None:
    cfg = Config.builder().with_api_key(KEY).with_api_secret(HMAC).build()
    checked = 0
    for obj in _all_config_objects(cfg):
        for f in dataclasses.fields(obj):
            before = getattr(obj, f.name)
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(obj, f.name, before)
            with pytest.raises(dataclasses.FrozenInstanceError):
                delattr(obj, f.name)
            checked += 1
    assert checked >= 40


def test_config_classes_are_all_frozen_dataclasses() -> None:
    for cls in (
        Config,
        ExchangeConfig,
        AuthConfig,
        RestConfig,
        WebSocketConfig,
        BackoffConfig,
        RetryConfig,
        RateLimitConfig,
        EventsConfig,
    ):
        assert dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]


def test_config_is_hashable_and_equal_by_value() -> None:
    a = Config.builder().with_timeout(3.0).build()
    b = Config.builder().with_timeout(3.0).build()
    assert a == b and hash(a) == hash(b)
    assert a != Config.builder().with_timeout(4.0).build()


def test_secret_is_immutable() -> None:
    s = Secret("x")
    with pytest.raises(AttributeError):
        s._value = "y"  # type: ignore[misc]
    assert s.reveal() == "x"


def test_backoff_config_policy() -> None:
    policy = Config.builder().with_backoff(base=1.0, max=4.0, jitter=0.0).build().backoff.policy()
    assert [policy.delay(n, 0.0) for n in range(4)] == [1.0, 2.0, 4.0, 4.0]


# ---------------------------------------------------------------- liveness from one place (issue 9)


def test_liveness_defaults_are_the_core_defaults() -> None:
    from binance_conn._core import health

    ws = Config.builder().build().websocket
    assert ws == WebSocketConfig()
    assert (ws.ping_interval, ws.pong_timeout, ws.silence_timeout, ws.health_check_interval) == (
        health.DEFAULT_PING_INTERVAL, health.DEFAULT_PONG_TIMEOUT, health.DEFAULT_SILENCE_TIMEOUT,
        health.DEFAULT_HEALTH_CHECK_INTERVAL)
    assert health.worst_case_detection(ws.ping_interval, ws.pong_timeout) <= health.DEFAULT_DETECTION_BOUND - 2.0


@pytest.mark.parametrize("interval", [0.5, 1.0, 2.0, 5.0, 10.0])
def test_health_check_interval_drives_ping_pong_and_silence(interval: float) -> None:
    from binance_conn._core.health import detection_bound, liveness_timings, worst_case_detection

    ws = Config.builder().with_health_check(interval).build().websocket
    want = liveness_timings(interval)
    assert (ws.ping_interval, ws.pong_timeout, ws.silence_timeout) == want[:3]
    assert ws.ping_interval == interval
    if interval >= 1.0:
        assert worst_case_detection(ws.ping_interval, ws.pong_timeout) <= detection_bound(interval) - 2.0


def test_explicit_websocket_liveness_wins_over_the_interval() -> None:
    ws = Config.builder().with_health_check(1.0).with_websocket(pong_timeout=0.7).build().websocket
    assert (ws.ping_interval, ws.pong_timeout, ws.silence_timeout) == (1.0, 0.7, 1.2)
    # order does not matter
    ws2 = Config.builder().with_websocket(pong_timeout=0.7).with_health_check(1.0).build().websocket
    assert ws2 == ws


def test_private_key_parsed_once_and_signer_shared(monkeypatch: pytest.MonkeyPatch, ed25519_pem: str) -> None:
    import copy
    import pickle

    from binance_conn._core import signing

    parsed: List[int] = []
    real = signing._load_private_key

    def counting(pem: str, password: Optional[str]) -> Any:
        parsed.append(1)
        return real(pem, password)

    monkeypatch.setattr(signing, "_load_private_key", counting)
    cfg = Config.builder().with_api_key(KEY).with_private_key(ed25519_pem).build()
    assert len(parsed) == 1 and cfg.auth.key_type == "ed25519"
    signer = signing.signer_from_auth(cfg.auth)
    assert signer is cfg.auth.signer() is signing.signer_from_auth(cfg.auth)
    assert len(parsed) == 1, "components reuse the signer parsed at build()"
    # pickling/copying drops the parsed key (re-parsed on demand), equality ignores it
    back = pickle.loads(pickle.dumps(cfg))
    assert back == cfg and back.auth.signer() is not None and back.auth.signer().key_type == "ed25519"
    assert copy.deepcopy(cfg) == cfg
    assert "PRIVATE" not in repr(cfg.auth)
