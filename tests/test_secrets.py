"""Secrets (HMAC secret, private key, key password) never show in a repr, str, error or log record."""

from __future__ import annotations

import copy
import dataclasses
import logging
import pickle
import traceback
from typing import Callable, List

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from binance_conn.config import Config, ConfigBuilder, Secret
from binance_conn.errors import ValidationError

KEY = "visible-api-key-ABCDEFG"
HMAC = "S3cr3t-HMAC-d4f1a9b2c7e8"
PASSWORD = "P4ssw0rd-for-the-key-x9"


def _ed25519_pem(password: "bytes | None" = None) -> str:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        .decode()
    )


PEM = _ed25519_pem()
ENC_PEM = _ed25519_pem(PASSWORD.encode())


def _body(pem: str) -> str:
    """The base64 body of a PEM: the part that is the actual key material."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


SECRET_STRINGS = [HMAC, PASSWORD, _body(PEM), _body(ENC_PEM)] + [
    line for pem in (PEM, ENC_PEM) for line in pem.splitlines() if not line.startswith("-----")
]


def _assert_clean(text: str) -> None:
    for secret in SECRET_STRINGS:
        assert secret not in text, f"secret leaked: {text!r}"


def test_secret_type_masks_repr_and_str() -> None:
    s = Secret(HMAC)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", "%s %r" % (s, s)):
        assert HMAC not in text
        assert "***" in text
    assert s.reveal() == HMAC
    assert bool(s) and not bool(Secret(""))


def test_secret_equality_and_pickle() -> None:
    s = Secret(HMAC)
    assert s == Secret(HMAC) and s != Secret("other") and s != HMAC
    assert hash(s) == hash(Secret(HMAC))
    assert pickle.loads(pickle.dumps(s)).reveal() == HMAC
    assert copy.deepcopy(s) == s


_GOOD_BUILDERS: List[Callable[[], ConfigBuilder]] = [
    lambda: Config.builder().with_api_key(KEY).with_api_secret(HMAC),
    lambda: Config.builder().with_api_key(KEY).with_private_key(PEM),
    lambda: Config.builder().with_api_key(KEY).with_private_key(ENC_PEM, password=PASSWORD),
    lambda: Config.builder().from_env(environ={"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": HMAC}),
    lambda: Config.builder().from_env(
        environ={
            "BINANCE_API_KEY": KEY,
            "BINANCE_PRIVATE_KEY": ENC_PEM,
            "BINANCE_PRIVATE_KEY_PASSWORD": PASSWORD,
        }
    ),
]


@pytest.mark.parametrize("make", _GOOD_BUILDERS)
def test_config_and_builder_reprs_are_masked(make: Callable[[], ConfigBuilder]) -> None:
    builder = make()
    _assert_clean(repr(builder))
    _assert_clean(str(builder))
    cfg = builder.build()
    assert cfg.auth.has_credentials
    for obj in (cfg, cfg.auth, cfg.auth.api_secret, cfg.auth.private_key, cfg.auth.private_key_password):
        _assert_clean(repr(obj))
        _assert_clean(str(obj))
        _assert_clean(f"{obj}")
    _assert_clean(repr(dataclasses.asdict(cfg)))
    _assert_clean(repr(dataclasses.astuple(cfg)))
    # The masked config still carries the real values for signing.
    revealed = [s.reveal() for s in (cfg.auth.api_secret, cfg.auth.private_key) if s is not None]
    assert revealed and revealed[0] in (HMAC, PEM, ENC_PEM)


def test_builder_repr_masks_and_omits_env() -> None:
    b = Config.builder().with_api_key(KEY).with_api_secret(HMAC).with_private_key(ENC_PEM, PASSWORD)
    text = repr(b)
    _assert_clean(text)
    assert "***" in text
    env_builder = Config.builder().from_env(environ={"BINANCE_API_SECRET": HMAC, "OTHER": "x"})
    _assert_clean(repr(env_builder))


_BAD_BUILDERS: List[Callable[[], ConfigBuilder]] = [
    # secret without a key
    lambda: Config.builder().with_api_secret(HMAC),
    lambda: Config.builder().with_private_key(PEM),
    lambda: Config.builder().from_env(environ={"BINANCE_API_SECRET": HMAC}),
    # both kinds of signing material
    lambda: Config.builder().with_api_key(KEY).with_api_secret(HMAC).with_private_key(PEM),
    # wrong / missing password
    lambda: Config.builder().with_api_key(KEY).with_private_key(ENC_PEM),
    lambda: Config.builder().with_api_key(KEY).with_private_key(ENC_PEM, password=PASSWORD + "-wrong"),
    lambda: Config.builder().with_api_key(KEY).with_private_key(PEM.replace("\n", "\n" + HMAC, 1)),
    # unparseable key text (the secret itself as the "key")
    lambda: Config.builder().with_api_key(KEY).with_private_key(HMAC),
    lambda: Config.builder().with_api_key(KEY).with_private_key(HMAC, password=PASSWORD),
    lambda: Config.builder().from_env(
        environ={"BINANCE_API_KEY": KEY, "BINANCE_PRIVATE_KEY": HMAC, "BINANCE_PRIVATE_KEY_PASSWORD": PASSWORD}
    ),
]


@pytest.mark.parametrize("make", _BAD_BUILDERS)
def test_validation_errors_about_secrets_are_masked(make: Callable[[], ConfigBuilder]) -> None:
    with pytest.raises(ValidationError) as info:
        make().build()
    err = info.value
    assert err.field.startswith("auth.")
    for text in (
        str(err),
        repr(err),
        err.message,
        err.constraint,
        repr(err.value),
        repr(err.details),
        repr(err.args),
        "".join(traceback.format_exception(type(err), err, err.__traceback__)),
    ):
        _assert_clean(text)
    # nothing chained that could carry key material
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__


def test_no_secret_in_captured_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("binance_conn.tests.secrets")
    for make in _GOOD_BUILDERS:
        builder = make()
        cfg = builder.build()
        log.info("built %s from %r", cfg, builder)
        log.debug("auth %r", cfg.auth, extra={"auth": cfg.auth, "secret": cfg.auth.api_secret})
    for make in _BAD_BUILDERS:
        try:
            make().build()
        except ValidationError:
            log.exception("config rejected")
    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert any(r.exc_info for r in caplog.records)
    _assert_clean(caplog.text)
    for record in caplog.records:
        _assert_clean(record.getMessage())
        _assert_clean(repr(record.__dict__))


def test_proxy_password_masked_in_reprs() -> None:
    proxy = "http://user:Pr0xy-Pa55-zz@proxy.local:3128"
    builder = Config.builder().with_proxy(proxy)
    assert "Pr0xy-Pa55-zz" not in repr(builder)
    cfg = builder.build()
    assert cfg.rest.proxy == cfg.websocket.proxy == proxy  # kept for use
    for obj in (cfg, cfg.rest, cfg.websocket):
        assert "Pr0xy-Pa55-zz" not in repr(obj)
        assert "Pr0xy-Pa55-zz" not in str(obj)
