"""os.fork() with a running connector (issue 9): the child's connector is STOPPED with no thread,
has closed the inherited WebSocket descriptors without sending anything on them, and start() in
the child restores every subscription of the parent -- market streams and user data -- with the
same callbacks and handles, which are active and deliver there. The parent runs on unaffected:
same connections (no close frame reached the fake), events keep arriving."""

from __future__ import annotations

import json
import os
import select
import time
from typing import Any, Dict, Iterator, List

import pytest
from _connector_helpers import FakeBinance, Recorder, conn_threads, fast_builder, scaled, wait_live

import binance_conn as bc
from binance_conn._io import transport as transport_mod

pytestmark = [pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
              pytest.mark.usefixtures("no_conn_threads")]


@pytest.fixture
def conn(fake: FakeBinance) -> Iterator[bc.Connector]:
    c = bc.Connector(fast_builder(fake).build())
    yield c
    c.stop(timeout=2.0)


def _read_line(fd: int, timeout: float) -> Dict[str, Any]:
    """One JSON line from the child, or a failure after ``timeout`` seconds."""
    deadline = time.monotonic() + scaled(timeout)
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, left))
        if not ready:
            pytest.fail(f"the forked child did not report in time (got {buf!r})")
        chunk = os.read(fd, 1)
        if not chunk:
            pytest.fail(f"the forked child died before reporting (got {buf!r})")
        buf += chunk
    report: Dict[str, Any] = json.loads(buf)
    return report


def _reap(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + scaled(timeout)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.02)  # polling a child process: there is no event to wait on


def _socket_fds() -> List[int]:
    """Descriptors of the WebSocket connections this process holds open."""
    fds = []
    for t in list(transport_mod._ALIVE):
        sock = t._sock
        if sock is not None and sock.fileno() >= 0:
            fds.append(sock.fileno())
    return fds


def _child(conn: bc.Connector, subs: Dict[str, Any], recs: Dict[str, Recorder], fds: List[int],
           to_parent: int, from_parent: int) -> None:
    """Runs in the child; reports over the pipe; never returns into pytest."""
    code = 0
    try:
        report: Dict[str, Any] = {
            "state": conn.state.value,
            "ready": conn.ready.is_set(),
            "threads": [t.name for t in conn_threads()],
            "active": {k: s.active for k, s in subs.items()},
            "user_wanted": conn.stats()["user_data"]["wanted"],
            "streams": sorted(conn.stats()["streams"]),
            "delivered_before": {k: s.delivered for k, s in subs.items()},
        }
        closed = []
        for fd in fds:
            try:
                os.fstat(fd)
            except OSError:
                closed.append(fd)
        report["inherited_fds_closed"] = closed == fds
        conn.start()
        report["started_ready"] = conn.wait_ready(10.0)
        os.write(to_parent, (json.dumps(report) + "\n").encode())
        select.select([from_parent], [], [], 10.0)  # the parent publishes, then says "go"
        report = {
            "trades": recs["trade"].wait_count(1, 10.0),
            "orders": recs["order"].wait_count(1, 10.0),
            "delivered_after": {k: s.delivered for k, s in subs.items()},
            "active_after": {k: s.active for k, s in subs.items()},
        }
        report["stopped"] = conn.stop(timeout=3.0)
        report["threads_after"] = [t.name for t in conn_threads()]
        os.write(to_parent, (json.dumps(report) + "\n").encode())
    except BaseException:  # noqa: BLE001 - anything: report by exit code
        code = 20
    os._exit(code)


def test_child_restores_every_subscription_and_the_parent_runs_on(fake: FakeBinance, conn: bc.Connector) -> None:
    recs = {"trade": Recorder(), "order": Recorder()}
    subs = {"trade": conn.on_trade("BTCUSDT", recs["trade"]), "order": conn.on_order(recs["order"])}
    conn.start()
    wait_live(conn, fake)
    assert fake.wait_for_user_subscriptions(1, scaled(5))
    parent_conns = {r["id"] for r in fake.connection_log if r["closed_at"] is None}
    fds = _socket_fds()
    assert len(fds) == 2, fds  # the stream connection and the WebSocket API connection
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(conn, subs, recs, fds, up_w, down_r)
    os.close(up_w)
    os.close(down_r)
    try:
        first = _read_line(up_r, 20)
        assert first["state"] == "STOPPED" and first["ready"] is False, first
        assert first["threads"] == [], first
        assert first["active"] == {"trade": True, "order": True}, first
        assert first["user_wanted"] is True and first["streams"] == ["btcusdt@trade"], first
        assert first["inherited_fds_closed"] is True, first
        assert first["started_ready"] is True, first
        # Both processes are subscribed now: one trade and one order fill reach both.
        assert fake.wait_for_user_subscriptions(2, scaled(5))
        fake.publish_trade("BTCUSDT", "1", "1")
        conn.rest.new_order("BTCUSDT", "BUY", "LIMIT", quantity="1", price="100", time_in_force="GTC")
        os.write(down_w, b"go")
        second = _read_line(up_r, 30)
    finally:
        os.close(up_r)
        os.close(down_w)
    assert _reap(pid, 10) == 0
    assert second["trades"] and second["orders"], second
    for key in ("trade", "order"):  # the parent's handles delivered in the child
        assert second["delivered_after"][key] > first["delivered_before"][key], (key, first, second)
    assert second["active_after"] == {"trade": True, "order": True}, second
    assert second["stopped"] is True and second["threads_after"] == [], second
    # The parent: same connections, never closed (no close frame from the child), still delivering.
    still_open = {r["id"] for r in fake.connection_log if r["closed_at"] is None}
    assert parent_conns <= still_open, (parent_conns, fake.connection_log)
    assert conn.is_connected() and conn.stats()["market"]["reconnects"] == 0
    assert conn.stats()["user_data"]["reconnects"] == 0
    n = len(recs["trade"])
    fake.publish_trade("BTCUSDT", "2", "1")
    assert recs["trade"].wait_count(n + 1, 5), "the parent stopped receiving after the fork"
    assert recs["order"].wait_count(1, 5)
    assert all(s.active for s in subs.values())
