"""The Flask example under gunicorn, as a user runs it: sync and gthread workers, with and
without ``--preload``, 2 workers each, against a FakeBinance started here.

Each case: every worker reports ready on /health (its own connector is up), a trade the fake
publishes after that reaches every worker's callback (seen on /price, asked until every worker
pid has answered), then TERM: gunicorn exits 0 within its graceful timeout, every worker ran
worker_exit (connector stopped in time), no traceback, and the fake sees every stream closed.

flask and gunicorn are in the ``test`` extra: a missing one fails these tests, never skips them.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, Optional, Set, Tuple

import flask  # noqa: F401  - a missing test dependency must fail, not skip
import gunicorn.config
import pytest
from _deploy_support import EXAMPLES, PY, example_env, http_json
from _helpers import scaled

from binance_conn.testing import FakeBinance

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn is POSIX-only")

APP_DIR = EXAMPLES / "flask_gunicorn"
GRACEFUL = 10  # seconds: GUNICORN_GRACEFUL_TIMEOUT for these runs
# gunicorn >= 24 opens a control socket in $HOME by default: parallel runs would share it.
_NO_CONTROL = ["--no-control-socket"] if hasattr(gunicorn.config, "ControlSocketDisable") else []


class Gunicorn:
    """One gunicorn master (subprocess) serving the example on a listener this test bound."""

    def __init__(self, fake: FakeBinance, tmp: Path, worker_class: str, preload: bool,
                 master_started: bool = False, env: Optional[Dict[str, str]] = None) -> None:
        # gunicorn cannot bind port 0 and report it: bind a free port here and hand gunicorn
        # the socket (fd://N), so no other process can take the port in between.
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.set_inheritable(True)
        self.port = self.listener.getsockname()[1]
        fd = self.listener.fileno()
        conf = Path(__file__).with_name("gunicorn_master_started.conf.py") if master_started else (
            APP_DIR / "gunicorn.conf.py")
        args = [PY, "-m", "gunicorn", "-c", str(conf), "-k", worker_class, *_NO_CONTROL]
        if worker_class == "gthread":
            args += ["--threads", "4"]
        if preload:
            args.append("--preload")
        args.append("app:app")
        env = example_env(fake, {"GUNICORN_BIND": f"fd://{fd}", "GUNICORN_WORKERS": "2",
                                 "GUNICORN_GRACEFUL_TIMEOUT": str(GRACEFUL),
                                 "EXAMPLE_GUNICORN_CONF": str(APP_DIR / "gunicorn.conf.py"), **(env or {})})
        self.log_path = tmp / "gunicorn.log"
        self._log = open(self.log_path, "wb")
        # Started from the repository root, like the README's command (the conf finds app.py).
        self.proc = subprocess.Popen(args, cwd=str(APP_DIR.parents[1]), env=env, pass_fds=(fd,),
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.listener.close()  # gunicorn holds the only copy now

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> Set[int]:
        return {int(p) for p in re.findall(r"Booting worker with pid: (\d+)", self.log())}

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


def sockets_to_port(pid: int, port: int) -> Optional[int]:
    """How many of process ``pid``'s descriptors are TCP connections to 127.0.0.1:``port``
    (Linux /proc; None elsewhere)."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        with open("/proc/net/tcp") as f:
            rows = [line.split() for line in f.readlines()[1:]]
    except OSError:
        return None
    inodes = {r[9] for r in rows if int(r[2].split(":")[1], 16) == port}
    return sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in inodes)


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(["BTCUSDT"], market_rate=0) as f:
        yield f


def _poll_workers(g: Gunicorn, path: str, want: int, accept, timeout: float) -> Dict[int, dict]:  # type: ignore[no-untyped-def]
    """GET ``path`` on fresh connections until ``want`` distinct worker pids gave a body that
    ``accept`` likes (a later answer of a pid replaces its earlier one); returns pid -> body."""
    good: Dict[int, dict] = {}
    last: Dict[int, Tuple[int, dict]] = {}
    deadline = time.monotonic() + scaled(timeout)
    while time.monotonic() < deadline:
        assert g.alive(), f"gunicorn exited early ({g.proc.returncode}):\n{g.log()}"
        try:
            status, body = http_json(g.url(path), timeout=scaled(2))
        except OSError:  # not listening yet / a worker restarting
            time.sleep(0.05)
            continue
        pid = int(body.get("pid", 0))
        last[pid] = (status, body)
        if accept(status, body):
            good[pid] = body
            if len(good) >= want:
                return good
        time.sleep(0.01)
    pytest.fail(f"only {sorted(good)} of {want} workers answered {path} as expected; last answers {last}\n{g.log()}")


CASES = [("sync", False, False), ("sync", True, False), ("gthread", False, False), ("gthread", True, False),
         ("sync", True, True)]
IDS = ["sync", "sync-preload", "gthread", "gthread-preload", "sync-preload-running-in-master"]


@pytest.mark.parametrize("worker_class,preload,master_started", CASES, ids=IDS)
def test_every_gunicorn_worker_receives_trades_and_exits_cleanly_on_term(
        fake: FakeBinance, tmp_path: Path, worker_class: str, preload: bool, master_started: bool) -> None:
    g = Gunicorn(fake, tmp_path, worker_class, preload, master_started)
    master_conns = 1 if master_started else 0
    try:
        # 1. every worker's own connector is up (ready: REST reachable, stream subscribed)
        ready = _poll_workers(g, "/health", 2, lambda st, b: st == 200 and b.get("ready") is True, timeout=20)
        pids = g.worker_pids()
        assert set(ready) == pids and len(pids) == 2, (ready, pids)
        started = {int(p) for p in re.findall(r"worker (\d+): connector started", g.log())}
        assert started == pids, f"post_fork did not start every worker's connector:\n{g.log()}"
        for body in ready.values():
            assert body["state"] == "CONNECTED"
            assert "btcusdt@trade" in body["stats"]["streams"]
        # one stream connection per worker, none in the master (with --preload the master built
        # the connector, but only the workers started theirs)
        # (the test-only master_started case: plus the master's own, untouched by the forks)
        want = 2 + master_conns
        assert fake.wait_until(lambda: fake.open_connections("stream") == want, scaled(5)), fake.connection_log
        assert len(fake.connection_log) == want, fake.connection_log  # no connection was lost to a fork
        if master_started:
            assert "connector started in the master, ready=True" in g.log(), g.log()
        # every worker holds exactly its own stream socket: an inherited one was dropped at the fork
        ws_port = int(fake.ws_url.rsplit(":", 1)[1])
        held = {pid: sockets_to_port(pid, ws_port) for pid in pids}
        assert all(n in (1, None) for n in held.values()), held

        # 2. a trade published now reaches every worker's callback
        tid = fake.publish_trade("BTCUSDT", price="43210.5", qty="0.25")
        seen = _poll_workers(g, "/price", 2,
                             lambda st, b: st == 200 and b.get("trade_id") is not None and b["trade_id"] >= tid,
                             timeout=10)
        assert set(seen) == pids
        for body in seen.values():
            assert body["trade_id"] == tid and body["price"] == "43210.50000000", body
            assert body["symbol"] == "BTCUSDT"

        # 3. TERM: a clean exit within the graceful timeout
        t0 = time.monotonic()
        g.proc.send_signal(signal.SIGTERM)
        try:
            code = g.proc.wait(timeout=GRACEFUL + scaled(5))
        except subprocess.TimeoutExpired:
            pytest.fail(f"gunicorn still running {GRACEFUL + scaled(5)} s after TERM:\n{g.log()}")
        took = time.monotonic() - t0
        out = g.log()
        assert code == 0, out
        assert took < GRACEFUL, f"exit took {took:.1f} s (graceful timeout {GRACEFUL} s)\n{out}"
        assert "Traceback" not in out and "Exception" not in out, out
        stopped = {int(p) for p in re.findall(r"worker (\d+): connector stopped\n", out)}
        assert stopped == pids, f"worker_exit did not stop every connector in time:\n{out}"
        assert fake.wait_until(lambda: fake.open_connections("stream") == 0, scaled(5))
        print(f"{worker_class}{' --preload' if preload else ''}: TERM -> exit {took:.2f} s")
    finally:
        g.kill()


def test_workers_recycled_by_max_requests_and_hup_get_their_own_live_connector(
        fake: FakeBinance, tmp_path: Path) -> None:
    """max_requests and HUP replace workers: each old worker stops its connector in worker_exit,
    each new one (forked from the --preload master) starts its copy in post_fork and receives
    trades published while it lives; TERM still ends everything cleanly."""
    g = Gunicorn(fake, tmp_path, "sync", preload=True, env={"GUNICORN_MAX_REQUESTS": "10"})
    try:
        live: Set[int] = set()  # workers that answered with a trade published after they booted

        def collect(rounds_until: int, timeout: float) -> None:
            deadline = time.monotonic() + scaled(timeout)
            while len(live) < rounds_until:
                assert time.monotonic() < deadline, f"only {sorted(live)} live workers\n{g.log()}"
                assert g.alive(), g.log()
                tid = fake.publish_trade("BTCUSDT", price="100", qty="1")
                for _ in range(20):
                    try:
                        status, body = http_json(g.url("/price"), timeout=scaled(2))
                    except OSError:
                        continue
                    if status == 200 and body.get("trade_id") == tid:
                        live.add(int(body["pid"]))
                        break

        collect(3, timeout=30)  # max_requests=10: a recycled worker is live too
        assert "Autorestarting worker" in g.log()
        before = g.worker_pids()
        g.proc.send_signal(signal.SIGHUP)
        assert _wait(lambda: len(g.worker_pids()) >= len(before) + 2, 15), g.log()
        collect(len(live) + 2, timeout=30)  # ... and the workers HUP brought
        assert "Handling signal: hup" in g.log()
        g.proc.send_signal(signal.SIGTERM)
        assert g.proc.wait(timeout=GRACEFUL + scaled(5)) == 0, g.log()
        out = g.log()
        assert "Traceback" not in out and "Exception" not in out, out
        stopped = {int(p) for p in re.findall(r"worker (\d+): connector stopped\n", out)}
        # every worker that ran gunicorn's exit path stopped its connector; one the master's TERM caught while
        # still booting (before gunicorn installed its signal handlers) dies at once, hooks and all
        exited = {int(p) for p in re.findall(r"Worker exiting \(pid: (\d+)\)", out)}
        assert exited and stopped == exited <= g.worker_pids(), (
            f"a worker exited without stopping its connector:\n{out}")
        assert fake.wait_until(lambda: fake.open_connections("stream") == 0, scaled(5))
    finally:
        g.kill()


def _wait(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + scaled(timeout)
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
