"""`python -m binance_conn.demo` against the fake: live output, the injected drop, the summary."""

from __future__ import annotations

import re
import threading

import pytest

from binance_conn import demo


def test_demo_runs_against_fake_and_shows_reconnect(capsys: pytest.CaptureFixture[str]) -> None:
    before = {t for t in threading.enumerate()}
    rc = demo.main(["--duration", "4", "--rate", "30"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "simulated market (FakeBinance" in out
    assert re.search(r"price\s+BTCUSDT \d+\.\d+", out), out
    assert re.search(r"trades\s+\+\d+\s+latest [A-Z]+ (BUY|SELL)", out), out
    assert "injecting a fault" in out
    # the drop is visible as connection events (the demo disables debouncing)
    assert re.search(r"connection\s+DISCONNECTED", out), out
    assert re.search(r"connection\s+RECONNECTING", out), out
    assert out.count("all streams subscribed") >= 2, out
    summary = out[out.index("Summary ("):]
    m = re.search(r"trade (\d+) \(\d+/s\), ticker (\d+)", summary)
    assert m and int(m.group(1)) > 30 and int(m.group(2)) >= 1, summary
    m = re.search(r"reconnects\s+(\d+) \(injected drops 1\)", summary)
    assert m and int(m.group(1)) >= 1, summary
    assert "latency     p50" in summary
    # the 1 s outage leaves holes in the trade streams, each reported and filled over REST
    m = re.search(r"gaps\s+(\d+) in the trade streams, (\d+) trades backfilled over REST, 0 left unfilled", summary)
    assert m and int(m.group(1)) >= 1 and int(m.group(2)) >= 1, summary
    assert re.search(r"gap\s+FILLED\s+\w+@trade: ids \d+\.\.\d+ missing", out), out
    assert "stopped     cleanly" in summary
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    assert not leaked


def test_demo_rejects_bad_duration() -> None:
    with pytest.raises(SystemExit):
        demo.main(["--duration", "0"])


def test_fmt_decimal_never_uses_float() -> None:
    from decimal import Decimal

    assert demo.fmt_decimal(Decimal("60187.59000000")) == "60187.59"
    assert demo.fmt_decimal(Decimal("0.00012300"), 2) == "0.000123"
    assert demo.fmt_decimal(Decimal("600"), 2) == "600.00"
    assert demo.fmt_decimal(Decimal("0.5000"), 0) == "0.5"
    assert demo.fmt_decimal(None) == "-"
