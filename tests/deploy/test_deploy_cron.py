"""examples/cron_job.py run as cron runs it (a fresh interpreter): its exit code says what happened.

0 ok against the fake, 2 for a bad configuration, 3 when REST is unreachable (refused port) or
answers 5xx, 4 for an error Binance returns (unknown symbol). Every run is bounded by the
job's own REST deadline (BINANCE_TIMEOUT).
"""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Dict, Iterator, List

import pytest
from _deploy_support import EXAMPLES, PY, example_env
from _helpers import scaled

from binance_conn.testing import FakeBinance

JOB = str(EXAMPLES / "cron_job.py")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(["BTCUSDT", "ETHUSDT"], market_rate=0) as f:
        yield f


def run_job(args: List[str], env: Dict[str, str], limit: float = 20.0) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run([PY, JOB, *args], env=env, capture_output=True, text=True, timeout=scaled(limit))


def test_cron_job_exits_0_and_prints_prices(fake: FakeBinance) -> None:
    last = fake.publish_trade("BTCUSDT", price="42000.5", qty="1")
    assert last
    r = run_job(["BTCUSDT", "ethusdt"], example_env(fake, {"BINANCE_TIMEOUT": "5"}))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "BTCUSDT 42000.5" and lines[1].startswith("ETHUSDT "), r.stdout
    assert "done: 2 symbol(s)" in r.stderr and "Traceback" not in r.stderr


def test_cron_job_with_a_key_prints_balances(fake: FakeBinance) -> None:
    env = example_env(fake, {"BINANCE_API_KEY": fake.api_key, "BINANCE_API_SECRET": fake.api_secret})
    r = run_job(["BTCUSDT", "--account"], env)
    assert r.returncode == 0, r.stderr
    assert "USDT free " in r.stdout and fake.api_secret not in r.stdout + r.stderr


def test_cron_job_exits_3_when_rest_is_unreachable() -> None:
    # A bound, non-listening socket: connections to its port are refused, and nobody else can
    # take the port while the test runs.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        env = example_env(None, {"BINANCE_REST_URL": f"http://127.0.0.1:{port}", "BINANCE_TIMEOUT": "2"})
        t0 = time.monotonic()
        r = run_job(["BTCUSDT"], env)
        took = time.monotonic() - t0
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "network error, try again later" in r.stderr and "refused" in r.stderr
    assert "Traceback" not in r.stderr
    # the 2 s deadline covers every retry; the rest is interpreter start-up
    assert took < scaled(2.0 + 5.0), took


def test_cron_job_exits_3_on_server_errors() -> None:
    with FakeBinance(["BTCUSDT"]) as own:  # its own fake: the faults are not cleared afterwards
        own.fail_next(10, status=503, code=-1000, path="/api/v3/ticker/price")
        r = run_job(["BTCUSDT"], example_env(own, {"BINANCE_TIMEOUT": "3"}))
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "temporary error" in r.stderr


def test_cron_job_exits_4_on_a_binance_api_error(fake: FakeBinance) -> None:
    r = run_job(["NOPEUSDT"], example_env(fake))
    assert r.returncode == 4, (r.returncode, r.stderr)
    assert "-1121" in r.stderr and "Traceback" not in r.stderr


BAD_CONFIGS = [
    ({"BINANCE_TIMEOUT": "0"}, "rest.timeout"),
    ({"BINANCE_TIMEOUT": "soon"}, "BINANCE_TIMEOUT"),
    ({"BINANCE_REST_URL": "ftp://127.0.0.1:1"}, "exchange.rest_url"),
    ({"BINANCE_EXCHANGE": "nasdaq"}, "exchange"),
]


def test_cron_job_exits_2_on_a_bad_configuration(fake: FakeBinance) -> None:
    # The runs are independent: start them all at once (interpreter start-up dominates).
    procs = [subprocess.Popen([PY, JOB, "BTCUSDT"], env=example_env(fake, extra), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for extra, _ in BAD_CONFIGS]
    procs.append(subprocess.Popen([PY, JOB, "--account"], env=example_env(fake), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True))
    try:
        outs = [p.communicate(timeout=scaled(20)) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for (extra, field), p, (_, err) in zip(BAD_CONFIGS, procs, outs):
        assert p.returncode == 2, (extra, p.returncode, err)
        assert "bad configuration" in err and f"(field {field}" in err, (extra, err)
        assert "Traceback" not in err
    # a signed call without a key: a validation error too, before anything is sent
    assert procs[-1].returncode == 2, outs[-1][1]
    assert "invalid request" in outs[-1][1] and "Traceback" not in outs[-1][1]
