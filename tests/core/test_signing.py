"""_core.signing: the reference's section-3.4 vectors and Ed25519/RSA round-trips."""

from __future__ import annotations

import base64
import sys

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from binance_conn._core.signing import Signer, quote_value, rest_query, signer_from_auth, ws_api_payload
from binance_conn.errors import ValidationError

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

R1 = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
ORDER = [("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "1"), ("price", "0.1"),
         ("recvWindow", "5000"), ("timestamp", "1499827319559")]


def test_r1_rest_ascii() -> None:
    payload = rest_query([("symbol", "LTCBTC")] + ORDER)
    assert payload == R1
    assert Signer.hmac_sha256(SECRET).sign(payload) == (
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_r2_rest_non_ascii_is_percent_encoded() -> None:
    payload = rest_query([("symbol", "１２３４５６")] + ORDER)
    assert payload.startswith("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY")
    assert Signer.hmac_sha256(SECRET).sign(payload) == (
        "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"
    )


def test_rest_query_encodes_reserved() -> None:
    assert rest_query([("symbols", '["A","B"]'), ("x", "a b&c=d/+")]) == (
        "symbols=%5B%22A%22%2C%22B%22%5D&x=a%20b%26c%3Dd%2F%2B"
    )
    assert quote_value("ab+/=") == "ab%2B%2F%3D"


def test_w1_ws_api_sorted_with_api_key() -> None:
    params = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01000000",
              "price": "52000.00", "recvWindow": 100, "timestamp": 1645423376532, "apiKey": API_KEY,
              "signature": "ignored"}
    payload = ws_api_payload(params)
    assert payload == (
        f"apiKey={API_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT"
        "&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"
    )
    assert Signer.hmac_sha256(SECRET).sign(payload) == (
        "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
    )


def test_w2_ws_api_raw_utf8() -> None:
    params = {"symbol": "１２３４５６", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "1.00000000", "price": "0.10000000", "recvWindow": 5000, "timestamp": 1645423376532,
              "apiKey": API_KEY}
    payload = ws_api_payload(params)
    assert "symbol=１２３４５６" in payload
    assert Signer.hmac_sha256(SECRET).sign(payload) == (
        "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd"
    )


def test_w3_logon() -> None:
    payload = ws_api_payload({"timestamp": 1649729878532, "apiKey": API_KEY})
    assert Signer.hmac_sha256(SECRET).sign(payload) == (
        "1cf54395b336b0a9727ef27d5d98987962bc47aca6e13fe978612d0adee066ed"
    )


def test_f1_futures_vector() -> None:
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    payload = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000"
        "&timestamp=1591702613943"
    )
    assert Signer.hmac_sha256(secret).sign(payload) == (
        "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    )


def test_ws_payload_bool() -> None:
    assert ws_api_payload({"b": True, "a": False}) == "a=false&b=true"


def _pem(key: object, password: bytes | None = None) -> str:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
    ).decode()


def test_ed25519_round_trip() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    signer = Signer.from_private_key(_pem(key))
    assert signer.key_type == "ed25519" and signer.is_base64
    sig = signer.sign(R1)
    assert len(sig) == 88
    key.public_key().verify(base64.b64decode(sig), R1.encode())  # raises if invalid


def test_rsa_round_trip_with_password() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = Signer.from_private_key(_pem(key, b"pw"), "pw")
    assert signer.key_type == "rsa"
    sig = signer.sign(R1)
    assert len(sig) == 344
    key.public_key().verify(base64.b64decode(sig), R1.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_bad_keys_rejected_without_leaking() -> None:
    with pytest.raises(ValidationError) as info:
        Signer.from_private_key("-----BEGIN PRIVATE KEY-----\nnotakey\n-----END PRIVATE KEY-----\n")
    assert "notakey" not in str(info.value) and info.value.__cause__ is None
    with pytest.raises(ValidationError):
        Signer.from_private_key(_pem(ec.generate_private_key(ec.SECP256R1())))
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(ValidationError):
        Signer.from_private_key(_pem(key, b"right"), "wrong")
    with pytest.raises(ValidationError):
        Signer.hmac_sha256("")


def test_missing_cryptography_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    pem = _pem(ed25519.Ed25519PrivateKey.generate())
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives", None)
    with pytest.raises(ValidationError) as info:
        Signer.from_private_key(pem)
    assert "pip install binance_conn[crypto]" in str(info.value)


def test_repr_hides_secret() -> None:
    s = Signer.hmac_sha256(SECRET)
    assert SECRET not in repr(s) and "hmac" in repr(s)


class _Secret:
    def __init__(self, v: str) -> None:
        self._v = v

    def reveal(self) -> str:
        return self._v


class _Auth:
    def __init__(self, secret: object = None, pem: object = None) -> None:
        self.api_secret = secret
        self.private_key = pem
        self.private_key_password = None


def test_signer_from_auth() -> None:
    assert signer_from_auth(_Auth()) is None
    signer = signer_from_auth(_Auth(secret=_Secret(SECRET)))
    assert signer is not None and signer.key_type == "hmac"
    pem = _pem(ed25519.Ed25519PrivateKey.generate())
    signer = signer_from_auth(_Auth(pem=_Secret(pem)))
    assert signer is not None and signer.key_type == "ed25519"
