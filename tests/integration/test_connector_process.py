"""Process-level behaviour against FakeBinance: after os.fork() a connector in the child is STOPPED
with no thread and can be started there; a forgotten stop() never keeps a script from exiting
(the atexit hook stops running connectors)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import Iterator

import pytest
from _connector_helpers import FakeBinance, conn_threads, fast_builder, scaled, stream_conns

import binance_conn as bc

pytestmark = pytest.mark.usefixtures("no_conn_threads")


@pytest.fixture
def conn(fake: FakeBinance) -> Iterator[bc.Connector]:
    c = bc.Connector(fast_builder(fake).build())
    yield c
    c.stop(timeout=2.0)


def _wait_child(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + scaled(timeout)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("forked child hung")
        time.sleep(0.02)  # polling a child process: no event to wait on


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_sees_a_stopped_restartable_connector(fake: FakeBinance, conn: bc.Connector) -> None:
    conn.on_trade("BTCUSDT", lambda e: None)
    conn.start()
    assert conn.wait_ready(scaled(5))
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 0
        try:
            if conn.state is not bc.ConnectionState.STOPPED:
                code = 10
            elif conn.ready.is_set() or conn.is_connected():
                code = 11
            elif conn_threads():
                code = 12
            elif conn.stop() is not True:
                code = 13
            else:
                conn.start()
                if not conn.wait_ready(5.0):
                    code = 14
                elif not conn.stop(timeout=2.0):
                    code = 15
                elif conn_threads():
                    code = 16
        except BaseException:  # noqa: BLE001
            code = 20
        os._exit(code)
    assert _wait_child(pid, 20) == 0
    assert len(stream_conns(fake)) == 2  # the child's own connection
    # the parent's connector is untouched
    assert conn.is_connected()
    tid = fake.publish_trade("BTCUSDT", "1", "1")
    assert tid > 0
    assert conn.stats()["market"]["reconnects"] == 0


def test_forgotten_stop_does_not_keep_the_process_alive(fake: FakeBinance) -> None:
    script = textwrap.dedent(f"""
        import atexit
        conn = None

        def report():  # registered first, so it runs after binance_conn's own atexit hook
            print("STATE", conn.state.value if conn is not None else None, flush=True)

        atexit.register(report)
        import binance_conn as bc
        cfg = (bc.Config.builder().with_rest_url({fake.rest_url!r}).with_ws_url({fake.ws_url!r})
               .with_backoff(base=0.05, max=0.5, jitter=0.0).build())
        conn = bc.Connector(cfg)
        conn.on_trade("BTCUSDT", lambda e: None)
        conn.start()
        print("READY", conn.wait_ready(5), flush=True)
    """)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=scaled(20))
    took = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    assert "READY True" in out.stdout, out.stdout + out.stderr
    assert "STATE STOPPED" in out.stdout, out.stdout + out.stderr
    assert took < 10, took
