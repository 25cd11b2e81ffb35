"""examples/django: AppConfig.ready() starts ONE connector per serving process, exactly once.

* ``manage.py runserver`` with its autoreloader: ready() runs in the reloader parent and in the
  child (RUN_MAIN=true); only the child connects (one stream connection), the child's /price
  shows a trade published after start; a code change replaces the child, whose atexit hook
  stops its connector before the new child connects; Ctrl-C (SIGINT to the process group, as a
  terminal sends it) stops the connector through the atexit hook, with no traceback.
* ``manage.py runserver --noreload``: one process, one connector.
* The django.setup() path (what a WSGI server does), with and without RUN_MAIN, and with
  ready() called a second time: one connector. ``manage.py check``: none.

django is in the ``test`` extra: missing, these tests fail (import error), never skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import django  # noqa: F401  - a missing test dependency must fail, not skip
import pytest
from _deploy_support import EXAMPLES, PY, example_env, http_json
from _helpers import scaled

from binance_conn.testing import FakeBinance

PROJECT = EXAMPLES / "django"


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(["BTCUSDT"], market_rate=0) as f:
        yield f


def stream_connections(fake: FakeBinance) -> List[dict]:
    return [c for c in fake.connection_log if c["kind"] == "stream"]


def _free_port() -> int:
    # runserver takes no fd:// listener: a port that was free a moment ago (a clash is retried)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunServer:
    """``python manage.py runserver`` in its own process group (parent + autoreloader child)."""

    def __init__(self, fake: FakeBinance, tmp: Path, *extra: str) -> None:
        # A copy of the project: the autoreload case edits a file of it.
        self.project = tmp / "project"
        shutil.copytree(PROJECT, self.project, ignore=shutil.ignore_patterns("__pycache__"))
        self.log_path = tmp / "runserver.log"
        for _ in range(3):
            self.port = _free_port()
            self._log = open(self.log_path, "wb")
            # The child must get Ctrl-C as a user's terminal gives it: SIGINT caught by Python
            # (KeyboardInterrupt), not inherited as ignored from whatever started the tests.
            previous = signal.signal(signal.SIGINT, signal.default_int_handler)
            try:
                self.proc = subprocess.Popen([PY, "manage.py", "runserver", f"127.0.0.1:{self.port}", *extra],
                                             cwd=str(self.project), env=example_env(fake), start_new_session=True,
                                             stdout=self._log, stderr=subprocess.STDOUT)
            finally:
                signal.signal(signal.SIGINT, previous)
            if not self._wait_listening():
                continue
            return
        pytest.fail(f"runserver did not start:\n{self.log()}")

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + scaled(20)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "already in use" in self.log():
                    self._log.close()
                    return False
                pytest.fail(f"runserver exited ({self.proc.returncode}):\n{self.log()}")
            try:
                http_json(self.url("/health"), timeout=scaled(2))
                return True
            except OSError:
                time.sleep(0.05)
        self.interrupt()
        pytest.fail(f"runserver not listening after 20 s:\n{self.log()}")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def interrupt(self, timeout: float = 10.0) -> Optional[int]:
        """Ctrl-C to the whole group; the parent's exit code (None: had to be killed)."""
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            return self.proc.wait(timeout=scaled(timeout))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            return None
        except ProcessLookupError:
            return self.proc.wait(5)
        finally:
            self._log.close()


def _wait_json(url: str, accept, timeout: float) -> Dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + scaled(timeout)
    last = None
    while time.monotonic() < deadline:
        try:
            status, body = http_json(url, timeout=scaled(2))
            last = (status, body)
            if accept(status, body):
                return body
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    pytest.fail(f"{url}: last answer {last}")


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGINT are POSIX")
@pytest.mark.parametrize("noreload", [False, True], ids=["autoreloader", "noreload"])
def test_runserver_starts_one_connector_and_stops_it_on_ctrl_c(fake: FakeBinance, tmp_path: Path,
                                                               noreload: bool) -> None:
    srv = RunServer(fake, tmp_path, *(["--noreload"] if noreload else []))
    code: Optional[int] = -1
    try:
        health = _wait_json(srv.url("/health"), lambda st, b: st == 200 and b["ready"], timeout=15)
        serving_pid = health["pid"]
        tid = fake.publish_trade("BTCUSDT", price="31337.5", qty="1")
        body = _wait_json(srv.url("/price"), lambda st, b: b.get("trade_id") == tid, timeout=10)
        assert body["price"] == "31337.50000000" and body["pid"] == serving_pid
        out = srv.log()
        started = re.findall(r"pid (\d+): connector started \(([^)]*)\)", out)
        assert [int(p) for p, _ in started] == [serving_pid], out
        if noreload:
            assert started[0][1] == "runserver --noreload"
        else:
            assert started[0][1] == "runserver, autoreloader child"
            parents = re.findall(r"pid (\d+): connector not started here \(runserver's autoreloader parent", out)
            assert len(parents) == 1 and int(parents[0]) != serving_pid, out
        assert len(stream_connections(fake)) == 1, stream_connections(fake)
        expected_connections = 1
        if not noreload:
            # A code change: the reloader ends the child (its atexit hook stops the connector) and
            # starts a new child with its own connector: still one connection at a time.
            # (The reloader notices a change of a file it has already seen once, polling every
            # second: edit a file loaded at start-up, and again until the reload shows.)
            settings = srv.project / "priceproject" / "settings.py"
            edits = [time.monotonic() - 10.0]

            def reloaded(status: int, b: dict) -> bool:
                if status == 200 and b["ready"] and b["pid"] != serving_pid:
                    return True
                if time.monotonic() - edits[-1] > 2.0 and f"pid {serving_pid}: connector stopped" not in srv.log():
                    settings.write_text(settings.read_text() + f"# edited by the test ({len(edits)})\n")
                    edits.append(time.monotonic())
                return False

            health = _wait_json(srv.url("/health"), reloaded, timeout=20)
            out = srv.log()
            assert f"pid {serving_pid}: connector stopped\n" in out, out
            children = re.findall(r"pid (\d+): connector started \(runserver, autoreloader child\)", out)
            assert children[-1] == str(health["pid"]), out
            serving_pid, expected_connections = health["pid"], len(children)  # 2 (3 if edited twice)
            assert fake.wait_until(lambda: fake.open_connections("stream") == 1, scaled(5))
            conns = stream_connections(fake)
            for old, new in zip(conns, conns[1:]):  # one at a time: the old closed before the new opened
                assert old["closed_at"] is not None and old["closed_at"] <= new["opened_at"], conns
    finally:
        code = srv.interrupt()
    out = srv.log()
    assert code is not None, f"runserver ignored Ctrl-C:\n{out}"
    assert f"pid {serving_pid}: connector stopped\n" in out, out  # the atexit hook ran, in time
    assert "Traceback" not in out, out
    assert fake.wait_until(lambda: fake.open_connections("stream") == 0, scaled(5))
    # never a second connection at a time, not even at exit
    assert len(stream_connections(fake)) == expected_connections, stream_connections(fake)


SETUP_SCRIPT = """
import logging, os, sys
import django
from django.apps import apps
django.setup()
apps.get_app_config("prices").ready()   # a second ready() in the same process
from prices import feed
conn = feed.connector()
print("CONNECTOR", "none" if conn is None else conn.state.value, flush=True)
if conn is not None:
    print("READY", conn.wait_ready(10), flush=True)
"""


READY_CASES = [
    ("setup", ["-c", SETUP_SCRIPT], None, True),          # a WSGI server / script calling django.setup()
    ("setup-RUN_MAIN", ["-c", SETUP_SCRIPT], "true", True),  # the same with RUN_MAIN set (left in the env)
    ("check", ["manage.py", "check"], None, False),       # a management command that needs no market data
    ("check-RUN_MAIN", ["manage.py", "check"], "true", False),
]


def test_ready_starts_at_most_one_connector() -> None:
    # Independent processes, each with its own fake: run them side by side (start-up dominates).
    with contextlib.ExitStack() as stack:
        fakes = [stack.enter_context(FakeBinance(["BTCUSDT"], market_rate=0)) for _ in READY_CASES]
        procs = []
        for (_, argv, run_main, _), fk in zip(READY_CASES, fakes):
            extra = {"DJANGO_SETTINGS_MODULE": "priceproject.settings"}
            if run_main is not None:
                extra["RUN_MAIN"] = run_main
            procs.append(subprocess.Popen([PY, *argv], cwd=str(PROJECT), env=example_env(fk, extra),
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            stack.callback(lambda p=procs[-1]: p.poll() is None and (p.kill(), p.wait()))
        outs = [p.communicate(timeout=scaled(30)) for p in procs]
        for (name, _, _, starts), fk, p, (stdout, stderr) in zip(READY_CASES, fakes, procs, outs):
            out = stdout + stderr
            assert p.returncode == 0, (name, out)
            assert "Traceback" not in out, (name, out)
            started = re.findall(r"pid \d+: connector started \(", out)
            if starts:
                assert len(started) == 1, (name, out)
                assert "READY True" in stdout, (name, out)
                assert "ready() called again; connector already handled" in out, (name, out)
                assert "connector stopped" in out, (name, out)  # the atexit hook
                assert len(stream_connections(fk)) == 1, (name, stream_connections(fk))
            else:
                assert not started and "connector not started here (management command 'check'" in out, (name, out)
                assert stream_connections(fk) == [], name


@pytest.mark.parametrize("argv,env,expected", [
    (["manage.py", "runserver"], {}, False),
    (["manage.py", "runserver"], {"RUN_MAIN": "true"}, True),
    (["manage.py", "runserver", "--noreload", "0:8000"], {}, True),
    (["/usr/lib/python3/site-packages/django/__main__.py", "runserver"], {"RUN_MAIN": "true"}, True),
    (["/venv/bin/django-admin", "migrate"], {}, False),
    (["manage.py", "--settings=x", "shell"], {"RUN_MAIN": "true"}, False),
    (["/venv/bin/gunicorn", "priceproject.wsgi"], {}, True),
    (["/venv/bin/gunicorn", "priceproject.wsgi"], {"BINANCE_AUTOSTART": "0"}, False),
    (["manage.py", "runserver"], {"RUN_MAIN": "true", "BINANCE_AUTOSTART": "0"}, False),
    ([], {}, True),  # embedded interpreter: argv may be empty
])
def test_should_start_rules(argv: List[str], env: Dict[str, str], expected: bool) -> None:
    sys.path.insert(0, str(PROJECT))
    try:
        from prices.apps import should_start
    finally:
        sys.path.remove(str(PROJECT))
    start, why = should_start(argv, env)
    assert start is expected, why
    assert why
