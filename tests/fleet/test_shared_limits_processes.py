"""with_shared_limits across real processes: a gunicorn-style app (a master forking eight workers)
plus a cron-style script hammer FakeBinance with signed calls through one Redis budget.

The helper ``_fleet_app.py`` records every call ``[t0, t1, outcome, limiter_mode]``; the
assertions below are made on those records and on the fake's request log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from _helpers import scaled, wait_until

from binance_conn.testing import DEFAULT_API_KEY, DEFAULT_API_SECRET, FakeBinance

APP = Path(__file__).with_name("_fleet_app.py")
WORKERS = 8
ACCOUNT_WEIGHT = 20
Record = Tuple[float, float, str, str]


class Fleet:
    """The app (master + workers) and the cron script as subprocesses, with their records."""

    def __init__(self, out: Path, rest_url: str, redis_url: str, key: str, weight_limit: int,
                 workers: int = WORKERS, max_wait: float = 0.5) -> None:
        self.out = out
        self.names = [f"worker{i}" for i in range(workers)] + ["cron"]
        env = dict(os.environ, FLEET_API_SECRET=DEFAULT_API_SECRET)
        common = [sys.executable, str(APP), "--rest-url", rest_url, "--redis", redis_url, "--key", key,
                  "--weight-limit", str(weight_limit), "--max-wait", str(max_wait), "--api-key", DEFAULT_API_KEY,
                  "--out", str(out)]
        self.procs = [
            subprocess.Popen(common + ["--role", "app", "--workers", str(workers)], env=env,
                             stderr=subprocess.PIPE, text=True),
            subprocess.Popen(common + ["--role", "cron"], env=env, stderr=subprocess.PIPE, text=True),
        ]
        self.stderr = ""

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert all(p.poll() is None for p in self.procs), self.finish()
            return all((self.out / f"ready-{n}").exists() for n in self.names)

        assert wait_until(ready, timeout=30.0, interval=0.02), "fleet did not start"

    def go(self, seconds: float) -> float:
        end = time.time() + seconds
        tmp = self.out / "go.tmp"
        tmp.write_text(repr(end))
        tmp.rename(self.out / "go")
        return end

    def finish(self, timeout: float = 30.0) -> str:
        for p in self.procs:
            try:
                _out, err = p.communicate(timeout=scaled(timeout))
            except subprocess.TimeoutExpired:
                p.kill()
                _out, err = p.communicate()
            self.stderr += err or ""
        return self.stderr

    def records(self) -> Dict[str, List[Record]]:
        return {n: [tuple(r) for r in json.loads((self.out / f"{n}.json").read_text())] for n in self.names}

    def kill(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.communicate()


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def _weights_per_window(log: List[Dict[str, Any]]) -> Dict[int, int]:
    """Weight the fake charged per 1-minute window (answered 200), from its request log."""
    out: Dict[int, int] = {}
    for rec in log:
        if rec["status"] != 200:
            continue
        weight = ACCOUNT_WEIGHT if rec["path"] == "/api/v3/account" else 1
        window = int(rec["time"] // 60)
        out[window] = out.get(window, 0) + weight
    return out


def test_eight_workers_and_a_cron_job_share_one_budget_and_one_ban(fleet_dir: Path, redis_url: str) -> None:
    """Zero 429s, the weight inside the budget, and a 418 that stops every process within 100 ms."""
    limit, ban = 2000, 2
    with FakeBinance(weight_limit=limit, ban_after=1000) as fake:
        fleet = Fleet(fleet_dir, fake.rest_url, redis_url, "fleet-ban", limit)
        try:
            fleet.wait_ready()
            # the next signed call, whichever process makes it, is answered 418
            fake.fail_next(1, status=418, code=-1003, retry_after=ban, path="/api/v3/account",
                           msg="Way too much request weight used; IP banned until 1.")
            fleet.go(2.0 + ban)
            stderr = fleet.finish()
            records = fleet.records()
        finally:
            fleet.kill()
        log = fake.request_log
    assert "Traceback" not in stderr, stderr
    every = [r for recs in records.values() for r in recs]
    outcomes = {o for _t0, _t1, o, _m in every}
    assert outcomes <= {"ok", "ban_fast", "ban_server", "limit_client"}, outcomes
    assert all(mode == "shared" for *_r, mode in every)

    # zero 429s from the fake; the weight it charged stays inside the budget in every window
    statuses = [rec["status"] for rec in log]
    assert 429 not in statuses and statuses.count(418) == 1
    per_window = _weights_per_window(log)
    assert max(per_window.values()) <= limit, per_window
    assert any(o == "limit_client" for *_r, o, _m in every), "the budget was never reached"

    # the 418: one process got it from the exchange; every process fails fast until the ban ends
    hit = [r for r in every if r[2] == "ban_server"]
    assert len(hit) == 1
    banned_at = hit[0][1]
    ban_end = banned_at + ban
    stopped_after: List[float] = []
    fast = [r[1] - r[0] for r in every if r[2] == "ban_fast"]
    for name, recs in records.items():
        # the ban is in Redis before the 418 call returns: every call started after it fails fast
        during = [r for r in recs if banned_at < r[0] and r[1] <= ban_end - 0.1 and r[2] != "ban_server"]
        assert during, f"{name} made no call during the ban"
        assert all(r[2] == "ban_fast" for r in during), (name, [r for r in during if r[2] != "ban_fast"][:3])
        first = min(r[0] for r in recs if r[2] in ("ban_fast", "ban_server"))
        stopped_after.append(first - banned_at)
        # the ban ended for everyone: no fail-fast answer once it is over
        assert not [r for r in recs if r[2] == "ban_fast" and r[0] > ban_end + 0.1], name
    assert max(stopped_after) < 0.1, stopped_after
    slow = [(n, round(r[0] - banned_at, 3), round(r[1] - r[0], 3)) for n, recs in records.items() for r in recs
            if r[2] == "ban_fast" and r[1] - r[0] >= 0.1]
    assert max(fast) < 0.1, slow
    # nothing reached the exchange while the fleet was banned
    assert not [rec for rec in log if banned_at + 0.1 < rec["time"] < ban_end - 0.1]
    assert any(r[2] == "ok" and r[0] > ban_end for r in every), "no call went through after the ban"
    _report("ban", {
        "calls": len(every), "ok": sum(r[2] == "ok" for r in every),
        "client_limited": sum(r[2] == "limit_client" for r in every),
        "fail_fast": len(fast), "fail_fast_max_ms": round(1000 * max(fast), 2),
        "fail_fast_median_ms": round(1000 * sorted(fast)[len(fast) // 2], 2),
        "stopped_after_max_ms": round(1000 * max(stopped_after), 2),
        "weight_per_window": per_window, "budget": limit,
    })


def test_redis_killed_and_restarted_mid_run(fleet_dir: Path, private_redis: Any) -> None:
    """No hang: every call is bounded by max_wait; the fleet limits locally, warns, and shares again."""
    max_wait = 0.2
    with FakeBinance(weight_limit=1_000_000) as fake:
        fleet = Fleet(fleet_dir, fake.rest_url, private_redis.url, "fleet-kill", 1_000_000, workers=2,
                      max_wait=max_wait)
        try:
            fleet.wait_ready()
            end = fleet.go(4.5)
            time.sleep(1.0)  # the run's timeline: 1 s shared, 1.5 s without Redis, then 2 s shared again
            private_redis.kill()
            killed = time.time()
            time.sleep(1.5)
            private_redis.start()
            restarted = time.time()
            assert end - restarted > 1.5
            stderr = fleet.finish()
            records = fleet.records()
        finally:
            fleet.kill()
    every = [r for recs in records.values() for r in recs]
    assert {o for _t0, _t1, o, _m in every} == {"ok"}, {o for *_r, o, _m in every}
    slowest = max(r[1] - r[0] for r in every)
    # a hang would be seconds (a socket with no timeout); on top of max_wait: one Redis timeout and
    # the call's own HTTP time, which a loaded CI machine (four suites at once) stretches
    assert slowest < max_wait + scaled(1.0), slowest
    for name, recs in records.items():
        assert any(m == "fallback" for t0, _t1, _o, m in recs if killed < t0 < restarted), name
        assert recs[-1][3] == "shared", name  # recovered
        assert any(m == "shared" for t0, _t1, _o, m in recs if t0 < killed), name
    warnings = [line for line in stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == len(records), stderr  # one per process and outage
    assert all("unusable" in w and "limiting locally" in w for w in warnings)
    recovered = min(t0 for recs in records.values() for t0, _t1, _o, m in recs
                    if t0 > restarted and m == "shared")
    _report("redis_kill", {"calls": len(every), "slowest_call_ms": round(1000 * slowest, 1),
                           "recovered_after_restart_ms": round(1000 * (recovered - restarted), 1)})


def _report(name: str, figures: Dict[str, Any]) -> None:
    """Figures for the record (pytest -s shows them; BINANCE_CONN_FLEET_REPORT appends them to a file)."""
    line = json.dumps({name: figures}, default=str)
    print(line)
    path = os.environ.get("BINANCE_CONN_FLEET_REPORT")
    if path:
        with open(path, "a") as fh:
            fh.write(line + "\n")

