"""`python -m binance_conn.demo --futures` (make demo FUTURES=1) against the fake: mark price and funding
lines, a fill and its position, the injected outage with the aggTrade gaps filled and the order that
filled meanwhile reconciled, the summary; the Makefile passes FUTURES=1 through."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path

import pytest

from binance_conn import demo


def test_futures_demo_runs_against_fake(capsys: pytest.CaptureFixture[str]) -> None:
    before = set(threading.enumerate())
    rc = demo.main(["--futures", "--duration", "4", "--symbols", "BTCUSDT", "ETHUSDT"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "simulated USD-M futures market" in out
    assert re.search(r"mark\s+BTCUSDT \d+\.\d+ funding 0\.0100% next \d\d:\d\d UTC", out), out
    assert re.search(r"order\s+BTCUSDT #\d+ BUY MARKET 0\.01 @ \d+\.\d+ FILLED", out), out
    assert re.search(r"position\s+BTCUSDT BOTH 0\.01 entry \d+", out), out
    assert "injecting a fault" in out
    assert re.search(r"order\s+BTCUSDT #\d+ BUY LIMIT .* FILLED  \(reconciled over REST after the outage\)", out), out
    assert re.search(r"position\s+BTCUSDT BOTH 0\.02 .*\(reconciled\)", out), out
    assert re.search(r"gap\s+FILLED\s+btcusdt@aggTrade: ids \d+\.\.\d+ missing", out), out
    summary = out[out.index("Summary ("):]
    m = re.search(r"agg_trade (\d+), mark_price (\d+), order (\d+), position (\d+)", summary)
    assert m and int(m.group(1)) > 20 and int(m.group(2)) >= 2, summary
    assert re.search(r"reconnects\s+[1-9]\d* \(injected drops 1\)", summary), summary
    m = re.search(r"gaps\s+(\d+) in the aggTrade streams, (\d+) agg trades backfilled over REST, 0 left unfilled",
                  summary)
    assert m and int(m.group(1)) >= 1 and int(m.group(2)) >= 1, summary
    assert re.search(r"futures\s+[1-9]\d* fill\(s\), [1-9]\d* update\(s\) reconciled .* 0 open position\(s\)", summary)
    assert "stopped     cleanly" in summary
    assert not [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]


def test_make_demo_futures_passes_the_flag() -> None:
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run(["make", "-n", "demo", "FUTURES=1"], cwd=root, capture_output=True, text=True, timeout=30)
    assert "-m binance_conn.demo" in r.stdout and "--futures" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(["make", "-n", "demo"], cwd=root, capture_output=True, text=True, timeout=30)
    assert "--futures" not in r.stdout
