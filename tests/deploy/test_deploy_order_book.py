"""examples/order_book.py run as a user runs it (a fresh interpreter, --fake: no network): it prints the
book's state changes and a top of book marked SYNCED, stops by itself after --seconds, and stops cleanly
on SIGINT (Ctrl-C) and SIGTERM."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest
from _deploy_support import EXAMPLES, PY, example_env
from _helpers import scaled, sigint_default

SCRIPT = str(EXAMPLES / "order_book.py")


def test_order_book_example_prints_a_synced_top_of_book() -> None:
    r = subprocess.run([PY, SCRIPT, "BTCUSDT", "--fake", "--seconds", "2"], env=example_env(), capture_output=True,
                       text=True, timeout=scaled(30))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "-- BTCUSDT book new -> SYNCING" in out and "SYNCING -> SYNCED" in out, out
    top = re.compile(r"BTCUSDT\s+SYNCED\s+id \d+\s+bid .* \| ask .* spread")
    tops = [line for line in out.splitlines() if top.search(line)]
    assert tops, out
    assert out.rstrip().splitlines()[-1].startswith("stopping:") and "Traceback" not in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_order_book_example_stops_cleanly_on_a_signal(sig: int) -> None:
    p = subprocess.Popen([PY, SCRIPT, "ETHUSDT", "--fake", "--levels", "3", "--interval", "0.1"], env=example_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    try:
        assert p.stdout is not None
        deadline = time.monotonic() + scaled(20)
        seen = ""
        while time.monotonic() < deadline and "bid " not in seen:
            seen += p.stdout.readline()
        assert "SYNCED" in seen, seen
        p.send_signal(sig)
        out, err = p.communicate(timeout=scaled(15))
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert "stopping:" in out and "Traceback" not in err, (out, err)
