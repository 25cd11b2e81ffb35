"""Canonical payloads and request signatures (sans-I/O).

REST and the WebSocket API sign *different* strings (reference section 3):

* REST (3.1): ``name=value`` pairs in the order they are sent, **percent-encoded**
  (UTF-8, mandatory since 2026-01-15, else ``-1022``), query string and body
  concatenated without separator ("totalParams").  The signature is appended as
  the last parameter and must cover exactly the bytes on the wire, so
  :func:`rest_query` produces the string that is both signed and sent.
* WebSocket API (3.2): every param except ``signature`` -- including ``apiKey`` --
  **sorted by name**, joined with ``&``, values as raw UTF-8, no percent-encoding
  (:func:`ws_api_payload`).

:class:`Signer` holds one credential, parsed once (the PEM is loaded at
construction, never on the hot path): HMAC-SHA256 -> lower-case hex; Ed25519 and
RSA (PKCS#1 v1.5, SHA-256) -> base64.  The key type is found by parsing the PEM,
not guessed from its length.  ``cryptography`` is imported lazily, only for
Ed25519/RSA; without it the error names ``pip install binance_conn[crypto]``.
Secrets never appear in ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Callable, Iterable, Mapping, Optional, Tuple
from urllib.parse import quote

from ..errors import ValidationError

__all__ = [
    "rest_query",
    "ws_api_payload",
    "quote_value",
    "Signer",
    "build_signer",
    "signer_from_auth",
]

_MASK = "***"
_CRYPTO_HINT = "Ed25519/RSA signing needs the 'cryptography' package: pip install binance_conn[crypto]"


def quote_value(text: str) -> str:
    """Percent-encode one name or value (RFC 3986 unreserved characters stay as they are)."""
    # safe="" so "/", "+", "=" in base64 signatures and "&"/"=" in values are encoded (3.1 step 4).
    return quote(text, safe="")


def rest_query(params: Iterable[Tuple[str, str]]) -> str:
    """The percent-encoded REST query string of already formatted ``(name, value)`` pairs.

    Order is kept (the server does not care; the signature covers what is sent).
    """
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)


def ws_api_payload(params: Mapping[str, Any]) -> str:
    """The WebSocket API signature payload: sorted by name, ``signature`` excluded, raw values.

    Values are expected to be already-formatted strings (or ints/bools, which are
    rendered as Binance expects: ``true``/``false``).
    """
    parts = []
    for name in sorted(params):
        if name == "signature":
            continue
        value = params[name]
        if isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str.__str__(value) if isinstance(value, str) else str(value)
        parts.append(f"{name}={text}")
    return "&".join(parts)


def _load_private_key(pem: str, password: Optional[str]) -> Tuple[str, Any]:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    except ImportError as exc:
        raise ValidationError("auth.private_key", _MASK, _CRYPTO_HINT) from exc
    try:
        key = serialization.load_pem_private_key(
            pem.encode("utf-8"), password=password.encode("utf-8") if password else None
        )
    except (ValueError, TypeError):
        # from None: never chain anything that might echo key material.
        raise ValidationError(
            "auth.private_key", _MASK, "not a parseable PEM private key (or wrong password)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - unsupported algorithms raise various types
        raise ValidationError(
            "auth.private_key", _MASK, f"unsupported private key ({type(exc).__name__})"
        ) from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519", key
    if isinstance(key, rsa.RSAPrivateKey):
        if not 2048 <= key.key_size <= 4096:
            raise ValidationError("auth.private_key", _MASK, "RSA keys must be 2048 to 4096 bits")
        return "rsa", key
    raise ValidationError("auth.private_key", _MASK, "only Ed25519 and RSA private keys are supported")


class Signer:
    """Signs payload strings with one credential; built once, then shared.

    Thread-safe: :meth:`sign` keeps no state between calls (the HMAC template is
    copied per call; ``cryptography`` key objects are safe to use concurrently).
    Never blocks.

    Attributes:
        key_type: ``"hmac"``, ``"ed25519"`` or ``"rsa"``.
        is_base64: True for Ed25519/RSA (case-sensitive base64 signatures that
            must be percent-encoded on the wire).
    """

    __slots__ = ("key_type", "is_base64", "_sign")

    def __init__(self, key_type: str, sign: Callable[[bytes], str]) -> None:
        self.key_type = key_type
        self.is_base64 = key_type != "hmac"
        self._sign = sign

    @classmethod
    def hmac_sha256(cls, secret: str) -> "Signer":
        """An HMAC-SHA256 signer (hex output) for an API secret."""
        if not isinstance(secret, str) or not secret:
            raise ValidationError("auth.api_secret", _MASK, "must be a non-empty string")
        template = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)

        def sign(payload: bytes) -> str:
            mac = template.copy()
            mac.update(payload)
            return mac.hexdigest()

        return cls("hmac", sign)

    @classmethod
    def from_private_key(cls, pem: str, password: Optional[str] = None) -> "Signer":
        """An Ed25519 or RSA signer (base64 output); the type is read from the PEM.

        Raises:
            ValidationError: unparseable/unsupported key, or ``cryptography`` missing
                (the message names ``pip install binance_conn[crypto]``).
        """
        if not isinstance(pem, str) or not pem.strip():
            raise ValidationError("auth.private_key", _MASK, "must be PEM text")
        key_type, key = _load_private_key(pem, password)
        if key_type == "ed25519":

            def sign_ed(payload: bytes) -> str:
                return base64.b64encode(key.sign(payload)).decode("ascii")

            return cls("ed25519", sign_ed)

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        pkcs1 = padding.PKCS1v15()
        sha256 = hashes.SHA256()

        def sign_rsa(payload: bytes) -> str:
            return base64.b64encode(key.sign(payload, pkcs1, sha256)).decode("ascii")

        return cls("rsa", sign_rsa)

    def sign(self, payload: str) -> str:
        """Signature of the UTF-8 bytes of ``payload`` (hex for HMAC, base64 otherwise)."""
        return self._sign(payload.encode("utf-8"))

    def __repr__(self) -> str:
        return f"Signer(key_type={self.key_type!r}, key={_MASK})"


def _reveal(value: Any) -> Optional[str]:
    if value is None:
        return None
    reveal = getattr(value, "reveal", None)
    if callable(reveal):
        return str(reveal())
    return str(value)


def build_signer(*, secret: Optional[str] = None, private_key: Optional[str] = None,
                 password: Optional[str] = None) -> Optional[Signer]:
    """The :class:`Signer` for a secret or a PEM private key (parsed here), or None for neither.

    A private key wins over a secret (the config builder allows only one anyway).
    """
    if private_key:
        return Signer.from_private_key(private_key, password)
    if secret:
        return Signer.hmac_sha256(secret)
    return None


def signer_from_auth(auth: Any) -> Optional[Signer]:
    """The :class:`Signer` for a config's ``auth`` section, or None without credentials.

    A built :class:`~binance_conn.config.AuthConfig` hands out the one signer it parsed
    at build time (``auth.signer()``): every component shares it, the key is parsed once.
    Other objects (duck-typed ``api_secret``/``private_key``) get a new signer.
    """
    cached = getattr(auth, "signer", None)
    if callable(cached):
        signer = cached()
        if signer is None or isinstance(signer, Signer):
            return signer
    return build_signer(
        secret=_reveal(getattr(auth, "api_secret", None)),
        private_key=_reveal(getattr(auth, "private_key", None)),
        password=_reveal(getattr(auth, "private_key_password", None)),
    )
