"""examples/futures.py run as a user runs it (a fresh interpreter, --fake: no network): streams on both
routes, a LIMIT order, a MARKET fill with its position, a STOP_MARKET sent to algoOrder, everything
cancelled and flattened, a clean stop; --live without keys or without network ends with a message."""

from __future__ import annotations

import subprocess

from _deploy_support import EXAMPLES, PY, example_env
from _helpers import scaled

SCRIPT = str(EXAMPLES / "futures.py")


def test_futures_example_against_the_fake() -> None:
    r = subprocess.run([PY, SCRIPT, "--fake", "--seconds", "1.5"], env=example_env(), capture_output=True,
                       text=True, timeout=scaled(40))
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = r.stdout
    for needle in ("MARK     BTCUSDT", "BOOK     BTCUSDT", "placed   LIMIT BUY", "BUY MARKET FILLED",
                   "POSITION BTCUSDT BOTH amount 0.001", "(sent to algoOrder)", "SELL STOP_MARKET NEW",
                   "REST     position BTCUSDT", "SELL STOP_MARKET CANCELED", "LIMIT CANCELED",
                   "POSITION BTCUSDT BOTH amount 0 ", "cleaned  open orders 0, algo orders 0, open positions 0"):
        assert needle in out, (needle, out)
    assert "stopping:" in out
    assert "Traceback" not in r.stderr, r.stderr


def test_futures_example_is_offline_by_default() -> None:
    env = example_env()
    env.pop("BINANCE_API_KEY", None)
    r = subprocess.run([PY, SCRIPT, "--seconds", "0.2"], env=env, capture_output=True, text=True,
                       timeout=scaled(40))
    assert r.returncode == 0 and "fake USD-M exchange (offline)" in r.stdout, (r.stdout, r.stderr)


def test_futures_example_live_needs_keys() -> None:
    env = example_env()
    env.pop("BINANCE_API_KEY", None)
    env.pop("BINANCE_API_SECRET", None)
    r = subprocess.run([PY, SCRIPT, "--live"], env=env, capture_output=True, text=True, timeout=scaled(20))
    assert r.returncode != 0 and "BINANCE_API_KEY" in r.stderr, (r.stdout, r.stderr)


def test_futures_example_live_unreachable_network_fails_fast() -> None:
    """A testnet that cannot be reached (here: a closed local port in place of the REST host) ends
    the script with a clear message and a non-zero status within the bounded timeout."""
    code = ("import runpy, sys\n"
            "import binance_conn.config as c\n"
            "c.EXCHANGES['binance-usdm-testnet'] = dict(c.EXCHANGES['binance-usdm-testnet'],"
            " rest_url='http://127.0.0.1:9')\n"
            f"sys.argv = [{SCRIPT!r}, '--live', '--timeout', '2']\n"
            f"runpy.run_path({SCRIPT!r}, run_name='__main__')\n")
    env = example_env()
    env.update(BINANCE_API_KEY="k", BINANCE_API_SECRET="s")
    r = subprocess.run([PY, "-c", code], env=env, capture_output=True, text=True,
                       timeout=scaled(30))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "error: cannot reach http://127.0.0.1:9" in r.stderr and "Traceback" not in r.stderr, r.stderr
