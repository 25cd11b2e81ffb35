"""API keys and signature checks: REST (section 3.1: the raw, percent-encoded totalParams) and
WebSocket API (section 3.2: sorted params incl. apiKey, no percent-encoding), HMAC / Ed25519 / RSA,
and the timestamp / recvWindow acceptance rule of section 3.3."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import unquote

from ._util import BinanceFault

__all__ = ["KeyStore", "check_timestamp", "rest_payload", "ws_payload", "DEFAULT_API_KEY", "DEFAULT_API_SECRET"]

DEFAULT_API_KEY = "fakeBinanceTestApiKey0000000000000000000000000000000000000000000"
DEFAULT_API_SECRET = "fakeBinanceTestSecret000000000000000000000000000000000000000000000"
_MIN_TIMESTAMP = 1483228800000  # 2017-01-01; older timestamps are rejected since 2024-12 (CL 2024-12-09)

BAD_KEY_FORMAT = (-2014, "API-key format invalid.")
REJECTED_KEY = (-2015, "Invalid API-key, IP, or permissions for action.")
BAD_SIGNATURE = (-1022, "Signature for this request is not valid.")


class KeyStore:
    """Registered API keys: HMAC secrets or Ed25519 / RSA public keys (PEM)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: Dict[str, Tuple[str, Any]] = {}

    def register_hmac(self, api_key: str, secret: str) -> None:
        with self._lock:
            self._keys[api_key] = ("HMAC", secret)

    def register_public(self, api_key: str, public_key_pem: str) -> str:
        """Register an Ed25519 or RSA public key; returns "ED25519" or "RSA"."""
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        key = load_pem_public_key(public_key_pem.encode() if isinstance(public_key_pem, str) else public_key_pem)
        if isinstance(key, ed25519.Ed25519PublicKey):
            kind = "ED25519"
        elif isinstance(key, rsa.RSAPublicKey):
            kind = "RSA"
        else:
            raise ValueError("only Ed25519 and RSA public keys are supported")
        with self._lock:
            self._keys[api_key] = (kind, key)
        return kind

    def revoke(self, api_key: str) -> None:
        with self._lock:
            self._keys.pop(api_key, None)

    def kind(self, api_key: str) -> Optional[str]:
        with self._lock:
            entry = self._keys.get(api_key)
        return entry[0] if entry else None

    def verify(self, api_key: str, payload: bytes, signature: str) -> bool:
        with self._lock:
            entry = self._keys.get(api_key)
        if entry is None:
            return False
        kind, key = entry
        if kind == "HMAC":
            expected = hmac.new(key.encode(), payload, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature.lower())
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            if kind == "ED25519":
                key.verify(raw, payload)
            else:
                key.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True


def _strip_signature(raw: str) -> Tuple[str, Optional[str]]:
    parts = raw.split("&") if raw else []
    sig: Optional[str] = None
    kept = []
    for part in parts:
        if part.startswith("signature="):
            sig = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), sig


def rest_payload(raw_query: str, raw_body: str) -> Tuple[bytes, Optional[str]]:
    """Section 3.1: totalParams = query string + body exactly as on the wire, minus ``signature``.
    Returns (payload bytes, percent-decoded signature or None)."""
    q, sig_q = _strip_signature(raw_query)
    b, sig_b = _strip_signature(raw_body)
    sig = sig_q if sig_q is not None else sig_b
    return (q + b).encode("latin-1", "replace"), (unquote(sig) if sig is not None else None)


def ws_payload(params: Mapping[str, Any]) -> bytes:
    """Section 3.2: all params but ``signature``, sorted by name, ``name=value`` joined by ``&``, raw UTF-8."""
    items = sorted((k, v) for k, v in params.items() if k != "signature")
    return "&".join(f"{k}={_ws_value(v)}" for k, v in items).encode("utf-8")


def _ws_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def check_timestamp(params: Mapping[str, Any], now_ms: int) -> None:
    """Section 3.3's acceptance rule; raises -1021 / -1102 / -1131 as Binance does."""
    raw = params.get("timestamp")
    if raw is None or raw == "":
        raise BinanceFault(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    try:
        ts = float(int(str(raw)))
    except ValueError:
        raise BinanceFault(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") \
            from None
    if ts > 1e14:  # microseconds (accepted since 2024-12-17)
        ts /= 1000.0
    window = 5000.0
    raw_window = params.get("recvWindow")
    if raw_window not in (None, ""):
        text = str(raw_window)
        try:
            window = float(text)
        except ValueError:
            raise BinanceFault(-1102, "Mandatory parameter 'recvWindow' was not sent, was empty/null, or malformed.") \
                from None
        if "." in text and len(text.split(".")[1]) > 3:
            raise BinanceFault(-1111, "Parameter 'recvWindow' has too much precision.")
        if window > 60000 or window <= 0:
            raise BinanceFault(-1131, "recvWindow must be less than 60000")
    if ts < _MIN_TIMESTAMP:
        raise BinanceFault(-1021, "Timestamp for this request is outside of the recvWindow.")
    if not ts < now_ms + 1000:
        raise BinanceFault(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - ts > window:
        raise BinanceFault(-1021, "Timestamp for this request is outside of the recvWindow.")
