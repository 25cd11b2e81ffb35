"""examples/fleet/ as a user runs it: one hub, gunicorn with N workers, a cron job, one Redis.

Against a FakeBinance and a real redis-server (the ``redis_url`` fixture): ``python -m
binance_conn.hub`` holds the streams (the only stream connection the fake sees) and serves its
/health and /metrics (``--metrics-port``); gunicorn serves
examples/fleet/app.py with ``FLEET_TEST_WORKERS`` workers (default 8, the example's default).
Every worker answers /health ready (its RedisFeed reads the hub), sees a trade and a best
bid/ask the fake publishes (asked until every worker pid answered), and makes signed calls
(/account, /order/test) with ``with_shared_limits``; cron_job.py exits 0 with a key, 1 with a
clear message without one. Then TERM: gunicorn exits 0 within its graceful timeout, every worker
stopped its feed, the hub stops in time; no traceback anywhere.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Tuple

import flask  # noqa: F401  - a missing test dependency must fail, not skip
import gunicorn.config
import pytest
import redis  # noqa: F401
from _deploy_support import EXAMPLES, PY, REPO, example_env, http_json
from _helpers import scaled

from binance_conn.testing import FakeBinance

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="gunicorn is POSIX-only")

APP_DIR = EXAMPLES / "fleet"
WORKERS = int(os.environ.get("FLEET_TEST_WORKERS", "8"))
GRACEFUL = 15  # seconds: GUNICORN_GRACEFUL_TIMEOUT (8 workers on a busy 2-core box exit in 1..6 s)
SYMBOLS = ("BTCUSDT", "ETHUSDT")
_NO_CONTROL = ["--no-control-socket"] if hasattr(gunicorn.config, "ControlSocketDisable") else []
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

Answer = Tuple[int, Dict[str, Any]]


class Proc:
    """A subprocess whose output goes to a file (read at any time)."""

    def __init__(self, args: List[str], env: Dict[str, str], log: Path, **kw: Any) -> None:
        self.log_path = log
        self._log: IO[bytes] = open(log, "wb")
        self.proc = subprocess.Popen(args, env=env, cwd=str(REPO), stdout=self._log, stderr=subprocess.STDOUT, **kw)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def term(self, limit: float) -> Tuple[int, float]:
        """SIGTERM; (exit code, seconds to exit). Fails the test if still running after ``limit``."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {limit:.0f} s after TERM:\n{self.log()}")
        return code, time.monotonic() - t0

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
            self.proc.wait(5)
        self._log.close()


def _post(url: str) -> Answer:
    req = urllib.request.Request(url, data=b"", method="POST", headers={"Connection": "close"})
    try:
        with _OPENER.open(req, timeout=scaled(5)) as resp:
            return resp.status, json.loads(resp.read().decode())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read().decode())


def _every_worker(g: Proc, url: str, want: int, accept: Callable[[int, Dict[str, Any]], bool],
                  timeout: float) -> Dict[int, Dict[str, Any]]:
    """Ask ``url`` in concurrent bursts (sync workers each take one connection at a time, so a
    burst spreads over the workers) until ``want`` distinct worker pids gave an answer ``accept``
    likes; returns pid -> body."""
    good: Dict[int, Dict[str, Any]] = {}
    last: Dict[int, Answer] = {}
    deadline = time.monotonic() + scaled(timeout)

    def ask(_: int) -> Answer:
        try:
            return http_json(url, timeout=scaled(5))
        except OSError:  # not listening yet
            time.sleep(0.05)
            return 0, {}

    with cf.ThreadPoolExecutor(2 * want) as pool:
        while time.monotonic() < deadline:
            assert g.alive(), f"gunicorn exited early ({g.proc.returncode}):\n{g.log()}"
            for status, body in pool.map(ask, range(2 * want)):
                pid = int(body.get("pid", 0))
                last[pid] = (status, body)
                if pid and accept(status, body):
                    good[pid] = body
            if len(good) >= want:
                return good
            time.sleep(0.02)
    pytest.fail(f"only {sorted(good)} of {want} workers answered {url} as expected; last answers {last}\n{g.log()}")


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(list(SYMBOLS), market_rate=0) as f:
        yield f


def test_fleet_hub_gunicorn_workers_and_cron_share_one_redis(fake: FakeBinance, redis_url: str,
                                                               tmp_path: Path) -> None:
    t_start = time.monotonic()
    prefix = f"fleet-{os.getpid()}"  # this run's own hub keys in the shared test Redis
    streams = [a for s in SYMBOLS for a in ("--stream", f"{s.lower()}@trade", "--stream", f"{s.lower()}@bookTicker")]
    hub = Proc([PY, "-m", "binance_conn.hub", "--redis", redis_url, "--prefix", prefix, *streams,
                "--rest-url", fake.rest_url, "--ws-url", fake.ws_url, "--shared-limits", "--metrics-port", "0"],
               example_env(fake), tmp_path / "hub.log")

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # gunicorn gets a bound socket: fd://N
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.set_inheritable(True)
    port, fd = listener.getsockname()[1], listener.fileno()
    env = example_env(fake, {"GUNICORN_BIND": f"fd://{fd}", "GUNICORN_WORKERS": str(WORKERS),
                             "GUNICORN_GRACEFUL_TIMEOUT": str(GRACEFUL), "REDIS_URL": redis_url,
                             "HUB_PREFIX": prefix, "BINANCE_SYMBOLS": ",".join(SYMBOLS),
                             "BINANCE_API_KEY": fake.api_key, "BINANCE_API_SECRET": fake.api_secret})
    web = Proc([PY, "-m", "gunicorn", "-c", str(APP_DIR / "gunicorn.conf.py"), *_NO_CONTROL, "app:app"], env,
               tmp_path / "gunicorn.log", pass_fds=(fd,))
    listener.close()
    cron: List[subprocess.Popen] = []  # type: ignore[type-arg]
    try:
        # the cron job needs no hub: run it (with a key, and without one) while the fleet boots
        no_key = {k: v for k, v in env.items() if not k.startswith("BINANCE_API_")}
        cron = [subprocess.Popen([PY, str(APP_DIR / "cron_job.py")], env=e, cwd=str(REPO), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for e in (env, no_key)]

        def url(path: str) -> str:
            return f"http://127.0.0.1:{port}{path}"

        # 1. every worker is ready: its feed reads the hub's topics, the hub is CONNECTED
        ready = _every_worker(web, url("/health"), WORKERS, lambda st, b: st == 200 and b["ready"] is True, 30)
        pids = {int(p) for p in re.findall(r"Booting worker with pid: (\d+)", web.log())}
        assert set(ready) == pids and len(pids) == WORKERS, (sorted(ready), sorted(pids))
        assert {int(p) for p in re.findall(r"worker (\d+): feed started", web.log())} == pids, web.log()
        for body in ready.values():
            assert body["state"] == "CONNECTED" and body["reading"] is True, body
            assert set(body["hub_topics"]) >= {"btcusdt@trade", "btcusdt@bookTicker"}, body
        t_ready = time.monotonic() - t_start
        # the hub holds the fleet's only Binance stream connection; its /health and /metrics answer
        assert fake.open_connections("stream") == 1, fake.connection_log
        found = re.search(r"hub metrics on (http://\S+)/metrics", hub.log())
        assert found, hub.log()
        status, health = http_json(found.group(1) + "/health")
        assert status == 200 and health["ready"] is True and health["state"] == "CONNECTED", health
        with _OPENER.open(found.group(1) + "/metrics", timeout=scaled(5)) as resp:
            assert 'binance_conn_up{connector="binance"} 1.0' in resp.read().decode()

        # 2. a trade and a best bid/ask published now reach every worker through Redis
        tid = fake.publish_trade("BTCUSDT", price="43210.5", qty="0.25")
        fake.publish_book_ticker("BTCUSDT", bid="43210.1", bid_qty="2", ask="43210.9", ask_qty="3")

        def saw_it(st: int, b: Dict[str, Any]) -> bool:
            return (st == 200 and (b.get("trade") or {}).get("trade_id") == tid
                    and (b.get("top") or {}).get("bid") == "43210.10000000")

        seen = _every_worker(web, url("/price/btcusdt"), WORKERS, saw_it, 10)
        assert set(seen) == pids
        for body in seen.values():
            assert body["trade"]["price"] == "43210.50000000" and body["top"]["ask"] == "43210.90000000", body
        assert fake.open_connections("stream") == 1, fake.connection_log  # still only the hub's

        # 3. signed calls from every worker (shared limits configured): balances, a test order
        accounts = _every_worker(web, url("/account"), WORKERS,
                                 lambda st, b: st == 200 and "USDT" in b.get("balances", {}), 10)
        assert set(accounts) == pids
        for side in ("BUY", "SELL"):
            status, body = _post(url(f"/order/test?symbol=BTCUSDT&side={side}&quantity=0.001"))
            assert status == 200 and body["ok"] is True, (status, body)
        status, body = _post(url("/order/test?symbol=NOPEUSDT&quantity=1"))
        assert status == 502 and body["binance_code"] == -1121, (status, body)
        signed = [r for r in fake.request_log if r["path"] in ("/api/v3/account", "/api/v3/order/test")]
        assert len(signed) >= WORKERS + 2 and all("signature" in r["params"] for r in signed), signed[:3]

        # 4. the cron job: 0 with a key, 1 with a clear message without one
        (out, err), (out2, err2) = (p.communicate(timeout=scaled(20)) for p in cron)
        assert cron[0].returncode == 0, err
        assert "USDT free 100000 locked 0" in out and "open orders: 0" in out, out
        assert err.rstrip().splitlines()[-1].startswith("cron_job: OK "), err
        assert cron[1].returncode == 1, err2
        assert err2.rstrip().splitlines()[-1].startswith("cron_job: FAILED invalid configuration or request"), err2
        for text in (out, err, out2, err2, web.log(), hub.log()):
            assert "Traceback" not in text and fake.api_secret not in text

        # 5. TERM: gunicorn exits 0 within its graceful timeout, every worker stopped its feed
        code, took = web.term(GRACEFUL + scaled(5))
        log = web.log()
        assert code == 0, log
        assert took < GRACEFUL, f"exit took {took:.1f} s (graceful timeout {GRACEFUL} s)\n{log}"
        assert "Traceback" not in log and "Exception" not in log, log
        assert {int(p) for p in re.findall(r"worker (\d+): feed stopped\n", log)} == pids, log

        # ... and the hub stops in time on TERM, closing its stream connection
        hub_code, hub_took = hub.term(scaled(15))
        hub_log = hub.log()
        assert hub_code == 0, hub_log
        assert "hub stopped (in time)" in hub_log and "Traceback" not in hub_log, hub_log
        assert fake.wait_until(lambda: fake.open_connections("stream") == 0, scaled(5))
        print(f"{WORKERS} workers: all ready {t_ready:.1f} s after start; gunicorn TERM -> exit {took:.2f} s, "
              f"hub {hub_took:.2f} s; total {time.monotonic() - t_start:.1f} s")
    finally:
        for p in cron:
            if p.poll() is None:
                p.kill()
                p.communicate()
        web.kill()
        hub.kill()



def test_hub_cli_names_a_bad_book_and_passes_shared_limits(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m binance_conn.hub``: ``--book SYMBOL@x`` is a usage error naming the argument (exit 2,
    no traceback); ``--shared-limits`` / ``--shared-key`` put the hub's REST and connection budget in the
    shared limits of ``--redis``."""
    from binance_conn import hub as hub_mod

    assert hub_mod.main(["--book", "BTCUSDT@x"]) == 2
    assert "invalid --book" in capsys.readouterr().err

    seen: List[Any] = []

    def capture(config: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(config)
        raise hub_mod.ValidationError("test", "stop", "stop here")  # main() returns 2 before starting anything

    monkeypatch.setattr(hub_mod, "Hub", capture)
    url = "redis://:pw@127.0.0.1:6399/3"
    assert hub_mod.main(["--redis", url, "--shared-limits", "--stream", "btcusdt@trade"]) == 2
    assert hub_mod.main(["--redis", url, "--shared-key", "egress-1", "--stream", "btcusdt@trade"]) == 2
    assert hub_mod.main(["--redis", url, "--stream", "btcusdt@trade"]) == 2
    limits = [(c.rate_limit.shared_redis_url, c.rate_limit.shared_key) for c in seen]
    assert limits == [(url, None), (url, "egress-1"), (None, None)]
    assert "pw" not in capsys.readouterr().err


def test_hub_cli_reads_the_environment_and_lowers_symbols(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI takes REDIS_URL / BINANCE_REST_URL / BINANCE_WS_URL as the examples set them, and
    ``BTCUSDT@kline_1M`` as ``btcusdt@kline_1M`` (the interval's case kept: 1M is a month)."""
    from binance_conn import hub as hub_mod

    seen: List[Any] = []

    def capture(config: Any, url: str, **kwargs: Any) -> None:
        seen.append((config, url, kwargs))
        raise hub_mod.ValidationError("test", "stop", "stop here")

    monkeypatch.setattr(hub_mod, "Hub", capture)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6398/2")
    monkeypatch.setenv("BINANCE_REST_URL", "http://127.0.0.1:1234")
    monkeypatch.setenv("BINANCE_WS_URL", "ws://127.0.0.1:1235")
    assert hub_mod.main(["--stream", "BTCUSDT@kline_1M", "--stream", "ethusdt@trade"]) == 2
    config, url, kwargs = seen[0]
    assert url == "redis://127.0.0.1:6398/2"
    assert config.exchange.rest_url == "http://127.0.0.1:1234" and config.exchange.ws_url == "ws://127.0.0.1:1235"
    assert kwargs["streams"] == ["btcusdt@kline_1M", "ethusdt@trade"]


_FORK_SCRIPT = r"""
import json, os, sys, threading, time
from decimal import Decimal
import binance_conn as bc
from binance_conn._core.codec import dumps
from binance_conn._redis.publisher import StreamPublisher

url, prefix, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
key = prefix + ":btcusdt@trade"
got = []

def trade(i):
    return bc.Trade("binance", "BTCUSDT", i, Decimal("1.5"), Decimal("2"), 1, True, 1)

def wait(pred):
    deadline = time.monotonic() + limit
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.01)
    return pred()

def ours():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("binance_conn-feed"))

pub = StreamPublisher(url, maxlen=1000)
pub.start()
feed = bc.RedisFeed(url, prefix=prefix)
feed.on_trade("BTCUSDT", lambda t: got.append(t.trade_id))
feed.start()
assert wait(lambda: all(m for ms in feed.stats()["positions"].values() for m in ms)), "not positioned"
pub.publish(key, dumps(trade(1)))
assert wait(lambda: got == [1]), got
pid = os.fork()
if pid == 0:  # the child: a copy of a RUNNING feed (gunicorn --preload with the feed started in the master)
    report = {"state": feed.state.value, "threads": ours()}
    feed.start()
    report["got"] = got if wait(lambda: got == [1, 2]) else list(got)
    report["stopped"] = feed.stop(limit)
    print("child " + json.dumps(report), flush=True)
    os._exit(0)
pub.publish(key, dumps(trade(2)))
ok = wait(lambda: got == [1, 2])
_, status = os.waitpid(pid, 0)
print("parent " + json.dumps({"got": got, "child_exit": os.waitstatus_to_exitcode(status),
                              "stopped": feed.stop(limit)}), flush=True)
pub.stop(time.monotonic() + limit)
"""


def test_a_running_feed_forked_into_a_child_is_stopped_there_and_starts_again(redis_url: str) -> None:
    """gunicorn ``--preload`` with a feed started in the master: the worker's copy is STOPPED with no
    thread, ``start()`` brings it up (same subscriptions and callbacks, continuing after the last event
    delivered before the fork), and the parent's feed runs on untouched."""
    r = subprocess.run([PY, "-c", _FORK_SCRIPT, redis_url, f"fork-{os.getpid()}", str(scaled(10))],
                       env=example_env(), capture_output=True, text=True, timeout=scaled(30))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    child, parent = json.loads(lines["child"]), json.loads(lines["parent"])
    assert child == {"state": "STOPPED", "threads": [], "got": [1, 2], "stopped": True}, child
    assert parent == {"got": [1, 2], "child_exit": 0, "stopped": True}, parent
