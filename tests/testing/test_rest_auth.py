"""Signatures (3.1, 3.4 vectors), keys, the timestamp rule (3.3) and their error paths."""

from __future__ import annotations

import base64
import time
from urllib.parse import quote

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from fakehelpers import hmac_hex, scaled, signed

from binance_conn.testing import FakeBinance

DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
R1 = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
      "&timestamp=1499827319559")
R1_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
R2 = ("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT&timeInForce=GTC"
      "&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
R2_SIG = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


@pytest.fixture
def doc_fake() -> FakeBinance:
    with FakeBinance(symbols=["BTCUSDT", "LTCBTC"], seed=1) as f:
        f.register_key(DOC_KEY, secret=DOC_SECRET)
        f.set_clock(1499827319559)
        yield f


def test_official_vector_r1_accepted_in_query_string(doc_fake: FakeBinance) -> None:
    r = requests.post(f"{doc_fake.rest_url}/api/v3/order?{R1}&signature={R1_SIG}",
                      headers={"X-MBX-APIKEY": DOC_KEY}, timeout=scaled(5))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "LTCBTC" and body["side"] == "BUY" and body["transactTime"] == 1499827319559
    assert r.headers["X-MBX-ORDER-COUNT-10S"] == "1" and r.headers["X-MBX-ORDER-COUNT-1D"] == "1"


def test_official_vector_r1_accepted_in_body_and_uppercase_hex(doc_fake: FakeBinance) -> None:
    r = requests.post(f"{doc_fake.rest_url}/api/v3/order", data=f"{R1}&signature={R1_SIG.upper()}",
                      headers={"X-MBX-APIKEY": DOC_KEY, "Content-Type": "application/x-www-form-urlencoded"},
                      timeout=scaled(5))
    assert r.status_code == 200, r.text


def test_official_vector_r2_percent_encoded_payload_is_what_is_verified(doc_fake: FakeBinance) -> None:
    r = requests.post(f"{doc_fake.rest_url}/api/v3/order?{R2}&signature={R2_SIG}",
                      headers={"X-MBX-APIKEY": DOC_KEY}, timeout=scaled(5))
    # The signature passes; only then is the (unknown) symbol rejected.
    assert r.status_code == 400 and r.json() == {"code": -1121, "msg": "Invalid symbol."}
    # Signing the decoded (non-encoded) text instead is a -1022, as since 2026-01-15.
    r = requests.post(f"{doc_fake.rest_url}/api/v3/order?{R2}&signature={R1_SIG}",
                      headers={"X-MBX-APIKEY": DOC_KEY}, timeout=scaled(5))
    assert r.json()["code"] == -1022


def test_mixed_query_and_body_total_params_have_no_separator(doc_fake: FakeBinance) -> None:
    q, b = R1.split("&quantity=")
    b = "quantity=" + b
    headers = {"X-MBX-APIKEY": DOC_KEY, "Content-Type": "application/x-www-form-urlencoded"}
    url = f"{doc_fake.rest_url}/api/v3/order?{q}"
    r = requests.post(url, data=f"{b}&signature={R1_SIG}", headers=headers, timeout=scaled(5))
    assert r.json()["code"] == -1022  # R1's signature covers "...GTC&quantity", not "...GTCquantity"
    r = requests.post(url, data=f"{b}&signature={hmac_hex(DOC_SECRET, q + b)}", headers=headers, timeout=scaled(5))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("headers,code,status", [
    ({}, -2014, 401),
    ({"X-MBX-APIKEY": "nope"}, -2015, 401),
])
def test_api_key_errors(fake: FakeBinance, headers: dict[str, str], code: int, status: int) -> None:
    r = requests.get(f"{fake.rest_url}/api/v3/account?timestamp={fake.now_ms()}&signature=00", headers=headers,
                     timeout=scaled(5))
    assert r.status_code == status and r.json()["code"] == code


def test_bad_and_missing_signature(fake: FakeBinance) -> None:
    r = signed(fake, "GET", "/api/v3/account", secret="wrong")
    assert r.status_code == 400 and r.json() == {"code": -1022, "msg": "Signature for this request is not valid."}
    r = requests.get(f"{fake.rest_url}/api/v3/account?timestamp={fake.now_ms()}",
                     headers={"X-MBX-APIKEY": fake.api_key}, timeout=scaled(5))
    assert r.status_code == 400 and r.json()["code"] == -1102


def test_timestamp_rule(fake: FakeBinance) -> None:
    now = fake.now_ms()
    assert signed(fake, "GET", "/api/v3/account", timestamp=now).status_code == 200
    ahead = signed(fake, "GET", "/api/v3/account", timestamp=now + 5000).json()
    assert ahead["code"] == -1021 and "ahead" in ahead["msg"]
    behind = signed(fake, "GET", "/api/v3/account", timestamp=now - 6000).json()
    assert behind["code"] == -1021 and "recvWindow" in behind["msg"]
    ok = signed(fake, "GET", "/api/v3/account", [("recvWindow", "10000")], timestamp=now - 6000)
    assert ok.status_code == 200
    assert signed(fake, "GET", "/api/v3/account", timestamp=(now - 1000) * 1000).status_code == 200  # µs
    assert signed(fake, "GET", "/api/v3/account", [("recvWindow", "70000")]).json()["code"] == -1131
    assert signed(fake, "GET", "/api/v3/account", timestamp=1400000000000).json()["code"] == -1021


def test_skewed_clock_rejects_then_time_endpoint_resyncs(fake: FakeBinance) -> None:
    fake.skew_clock(-20000)  # server 20 s behind: our timestamps look 20 s in the future
    r = signed(fake, "GET", "/api/v3/account", timestamp=int(time.time() * 1000))
    assert r.status_code == 400 and r.json()["code"] == -1021
    server = requests.get(fake.rest_url + "/api/v3/time", timeout=scaled(5)).json()["serverTime"]
    assert signed(fake, "GET", "/api/v3/account", timestamp=server).status_code == 200


def _sign_raw(fake: FakeBinance, key: str, query: str, sig: str) -> requests.Response:
    return requests.get(f"{fake.rest_url}/api/v3/account?{query}&signature={quote(sig, safe='')}",
                        headers={"X-MBX-APIKEY": key}, timeout=scaled(5))


def test_ed25519_and_rsa_keys(fake: FakeBinance) -> None:
    ed = ed25519.Ed25519PrivateKey.generate()
    pem = ed.public_key().public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert fake.register_key("edkey", pem) == "ED25519"
    query = f"omitZeroBalances=true&timestamp={fake.now_ms()}"
    sig = base64.b64encode(ed.sign(query.encode())).decode()
    assert len(sig) == 88
    assert _sign_raw(fake, "edkey", query, sig).status_code == 200
    assert _sign_raw(fake, "edkey", query + "0", sig).json()["code"] == -1022

    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rk.public_key().public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert fake.register_key("rsakey", pem) == "RSA"
    sig = base64.b64encode(rk.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    assert _sign_raw(fake, "rsakey", query, sig).status_code == 200
    assert _sign_raw(fake, "rsakey", query, sig.lower()).json()["code"] == -1022  # base64 is case-sensitive

    fake.revoke_key("rsakey")
    assert _sign_raw(fake, "rsakey", query, sig).json()["code"] == -2015
