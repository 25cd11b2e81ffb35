"""The recorder (``_io/recorder.py``) and ``Connector.record``: format, rotation, secrets,
a failing disk, a full queue, threads, and nothing on the hot path while off."""

from __future__ import annotations

import errno
import functools
import gzip
import io
import json
import logging
import os
import pathlib
import threading
import warnings
from typing import IO, Any, Dict, List

import pytest
from _helpers import scaled, wait_until
from _rec_helpers import Events, binance_threads, fast_builder

import binance_conn as bc
from binance_conn._io.recorder import NO_TAP, Recorder, Tap, part_path, recording_files
from binance_conn.testing import FakeBinance

SYM = "BTCUSDT"


def _lines(path: str) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for name in recording_files(path):
        with gzip.open(name, "rt", encoding="utf-8") as fh:
            out.extend(json.loads(line) for line in fh)
    return out


def _frame(i: int) -> bytes:
    # incompressible enough that a few hundred frames fill several 4 KiB parts
    noise = os.urandom(24).hex()
    return json.dumps({"stream": "btcusdt@trade", "data": {"t": i, "x": noise}}).encode()


@pytest.fixture
def fake() -> Any:
    with FakeBinance([SYM], seed=3) as f:
        yield f


# ---------------------------------------------------------------- the recorder alone
def test_part_names_and_listing(tmp_path: pathlib.Path) -> None:
    base = str(tmp_path / "rec.jsonl.gz")
    assert part_path(base, 0) == base and part_path(base, 2) == str(tmp_path / "rec.2.jsonl.gz")
    assert part_path(str(tmp_path / "plain"), 1) == str(tmp_path / "plain.1")
    for n in (0, 10, 2, 1):
        pathlib.Path(part_path(base, n)).write_bytes(b"")
    (tmp_path / "rec.x.jsonl.gz").write_bytes(b"")  # not a part
    assert recording_files(base) == [part_path(base, n) for n in (0, 1, 2, 10)]


def test_rotation_by_size_keeps_every_line_in_order(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "rec.jsonl.gz")
    rec = Recorder(path, max_bytes=4096).start()
    for i in range(600):
        rec.ws_frames(1, [(1, _frame(i)), (10, b"")])  # a pong: not recorded
    assert rec.stop(5.0)
    assert len(rec.files) >= 3 and rec.files == recording_files(path)
    for name in rec.files[:-1]:
        assert 4096 <= os.path.getsize(name) < 2 * 4096  # rotated soon after the limit
    lines = _lines(path)
    assert [ln["part"] for ln in lines if ln["k"] == "meta"] == list(range(len(rec.files)))
    ids = [json.loads(ln["frame"])["data"]["t"] for ln in lines if ln["k"] == "ws"]
    assert ids == list(range(600)) and rec.dropped == 0 and rec.lines == len(lines)


def test_rotation_by_time(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "rec.jsonl.gz")
    rec = Recorder(path, rotate_seconds=0.1).start()
    i = 0
    while len(rec.files) < 3:
        assert i < 100_000
        rec.ws_frames(1, [(1, _frame(i))])
        i += 1
        wait_until(functools.partial(lambda n: rec.lines > n, i), 0.05, 0.005)
    assert rec.stop(5.0)
    ids = [json.loads(ln["frame"])["data"]["t"] for ln in _lines(path) if ln["k"] == "ws"]
    assert ids == list(range(i))


def test_a_second_recording_to_the_same_path_continues_it(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "rec.jsonl.gz")
    for run in range(2):
        rec = Recorder(path).start()
        rec.ws_frames(run, [(1, _frame(run))])
        assert rec.stop(5.0)
    assert recording_files(path) == [path, part_path(path, 1)]
    assert [ln["conn"] for ln in _lines(path) if ln["k"] == "ws"] == [0, 1]


class _Disk:
    """An opener whose files fail with ENOSPC while ``full`` is set (or raise ``crash``)."""

    def __init__(self, crash: Exception) -> None:
        self.full = threading.Event()
        self.crash = crash
        self.opened: List[str] = []

    def __call__(self, name: str) -> IO[bytes]:
        disk = self

        class _File(io.BytesIO):
            def write(self, b: Any) -> int:
                if disk.full.is_set():
                    raise disk.crash
                return super().write(b)

        if self.full.is_set():
            raise self.crash
        self.opened.append(name)
        return _File()


@pytest.mark.parametrize("crash", [OSError(errno.ENOSPC, "No space left on device"), RuntimeError("bug")],
                         ids=["disk_full", "bug"])
def test_a_failing_disk_is_reported_once_and_the_writer_recovers(tmp_path: pathlib.Path, crash: Exception,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    disk = _Disk(crash)
    errors: List[bc.BinanceError] = []
    rec = Recorder(str(tmp_path / "rec.jsonl.gz"), opener=disk, on_error=errors.append, retry_delay=0.05).start()
    rec.ws_frames(1, [(1, _frame(0))])
    assert wait_until(lambda: rec.lines >= 2)
    disk.full.set()
    assert wait_until(lambda: (rec.ws_frames(1, [(1, _frame(1))]), rec.failures >= 3)[1])  # retries fail too
    assert len(errors) == 1 and errors[0].code == "recording_failed"  # once per episode
    assert type(crash).__name__ in str(errors[0]) and rec.dropped >= 1
    assert any("recording to" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    disk.full.clear()
    lines = rec.lines
    assert wait_until(lambda: (rec.ws_frames(1, [(1, _frame(9))]), rec.lines > lines + 1)[1])
    assert rec.is_active and len(disk.opened) >= 2  # a fresh part after the failure
    assert rec.stop(5.0)


def test_a_lasting_disk_failure_leaves_no_empty_parts_and_logs_once(tmp_path: pathlib.Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Review finding: every retry opened a new empty part and logged an ERROR (3,600 of each in
    a disk-full hour). Retries back off, reuse the failed part's name, and log once."""

    class Full(io.RawIOBase):
        def __init__(self, path: str) -> None:
            self.f = open(path, "xb")

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            self.f.close()
            super().close()

    caplog.set_level(logging.DEBUG, "binance_conn.recording")
    rec = Recorder(str(tmp_path / "rec.jsonl.gz"), opener=lambda p: Full(p), retry_delay=0.02).start()  # type: ignore[arg-type,return-value]
    assert wait_until(lambda: (rec.ws_frames(1, [(1, _frame(1))]), rec.failures >= 4)[1])
    assert rec.stop(5.0)
    assert len(list(tmp_path.iterdir())) <= 1 and len(rec.files) <= 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]


def test_a_full_queue_drops_and_counts_never_blocks(tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()

    def slow_open(name: str) -> IO[bytes]:
        gate.wait(scaled(5))
        return io.BytesIO()

    rec = Recorder(str(tmp_path / "rec.jsonl.gz"), queue_size=10, opener=slow_open).start()
    for i in range(100):
        rec.ws_frames(1, [(1, _frame(i)), (1, _frame(i))])  # never blocks although nothing is written
    assert rec.dropped >= 150
    caplog.set_level(logging.WARNING, "binance_conn.recording")
    gate.set()
    assert wait_until(lambda: any("dropped" in r.getMessage() for r in caplog.records))
    assert rec.stop(5.0)


def test_rest_lines_keep_no_secret_and_only_x_mbx_headers(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "rec.jsonl.gz")
    rec = Recorder(path).start()
    pairs = [("symbol", "BTCUSDT"), ("recvWindow", "5000"), ("timestamp", "1"), ("signature", "abc"),
             ("apiKey", "KEY")]
    headers = {"X-MBX-USED-WEIGHT-1M": "3", "Set-Cookie": "s=1", "x-mbx-order-count-10s": "1"}
    rec.rest("POST", "/api/v3/order", pairs, 400, headers, b'{"code":-1013,"msg":"x"}')
    assert rec.stop(5.0)
    (line,) = [ln for ln in _lines(path) if ln["k"] == "rest"]
    assert line["params"] == {"symbol": "BTCUSDT"} and line["status"] == 400
    assert line["headers"] == {"X-MBX-USED-WEIGHT-1M": "3", "x-mbx-order-count-10s": "1"}
    assert json.loads(line["body"])["code"] == -1013


def test_stop_is_idempotent_and_joins_the_writer(tmp_path: pathlib.Path) -> None:
    rec = Recorder(str(tmp_path / "rec.jsonl.gz")).start()
    assert any(t.name == "binance_conn-recorder" for t in binance_threads())
    assert rec.stop(5.0) and rec.stop(5.0) and not rec.is_active
    assert not any(t.name == "binance_conn-recorder" for t in binance_threads())


def test_nothing_records_while_off() -> None:
    tap = Tap()
    assert tap.rec is None and NO_TAP.rec is None and not hasattr(tap, "__dict__")  # one slot, one check

    class Boom:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("a response was recorded while off")

    tap.rest("GET", "/api/v3/ping", [], Boom())


# ---------------------------------------------------------------- through the connector
def test_connector_records_frames_and_responses_without_secrets(fake: FakeBinance, tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "rec.jsonl.gz")
    conn = bc.Connector(fast_builder(fake).build())
    trades = Events()
    conn.on_trade(SYM, trades)
    try:
        rec = conn.record(path)
        assert conn.recording is rec
        conn.start()
        assert conn.wait_ready(scaled(10)) and fake.wait_for_subscriptions(["btcusdt@trade"], scaled(5))
        ids = [fake.publish_trade(SYM, "100.5", "0.1") for _ in range(5)]
        assert trades.wait_count(5)
        conn.rest.depth(SYM, limit=5)
        conn.rest.account()  # signed: api key header and signature must not be recorded
        with pytest.raises(bc.BinanceError):
            conn.rest.request("GET", "/api/v3/nope")
    finally:
        assert conn.stop(5.0)
    assert conn.recording is None and not rec.is_active
    lines = _lines(path)
    kinds = [ln["k"] for ln in lines]
    assert kinds[0] == "meta" and "open" in kinds and "close" in kinds
    frames = [json.loads(ln["frame"]) for ln in lines if ln["k"] == "ws"]
    assert [f["data"]["t"] for f in frames if f.get("stream") == "btcusdt@trade"] == ids
    assert all(isinstance(ln["t"], int) for ln in lines)
    rest = {ln["path"]: ln for ln in lines if ln["k"] == "rest"}
    depth = rest["/api/v3/depth"]
    assert depth["params"] == {"symbol": SYM, "limit": "5"} and depth["status"] == 200
    assert json.loads(depth["body"])["lastUpdateId"] > 0
    assert all(k.lower().startswith("x-mbx-") for k in depth["headers"]) and depth["headers"]
    account = rest["/api/v3/account"]
    assert set(account["params"]) & {"signature", "timestamp", "recvWindow"} == set()
    assert rest["/api/v3/nope"]["status"] == 404
    raw = b"".join(gzip.open(n).read() for n in recording_files(path)).decode()
    assert fake.api_key not in raw and fake.api_secret not in raw and "signature" not in raw


def test_config_recording_starts_with_start_and_ends_with_stop(fake: FakeBinance, tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "cfg.jsonl.gz")
    conn = bc.Connector(fast_builder(fake).with_recording(path, max_bytes=1 << 20, rotate_seconds=60).build())
    before = set(binance_threads())
    for _ in range(2):  # a restart continues the recording in a new part
        conn.on_trade(SYM, lambda e: None)
        conn.start()
        assert conn.wait_ready(scaled(10))
        rec = conn.recording
        assert rec is not None and rec.max_bytes == 1 << 20 and rec.rotate_seconds == 60
        assert conn.stop(5.0) and conn.recording is None
    assert recording_files(path) == [path, part_path(path, 1)]
    assert wait_until(lambda: not (set(binance_threads()) - before))


def test_a_disk_failure_never_hurts_the_connector(fake: FakeBinance, tmp_path: pathlib.Path) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    errors, trades = Events(), Events()
    conn.on_error(errors)
    conn.on_trade(SYM, trades)
    try:
        folder = tmp_path / "missing-dir"
        folder.mkdir()
        rec = conn.record(str(folder / "rec.jsonl.gz"))  # accepted: the directory exists now
        folder.rmdir()  # then the disk "fails": every open of a part fails (nothing opened yet)
        conn.start()
        assert conn.wait_ready(scaled(10)) and fake.wait_for_subscriptions(["btcusdt@trade"], scaled(5))
        ids = [fake.publish_trade(SYM, "100", "1") for _ in range(3)]
        assert trades.wait_count(3) and [e.trade_id for e in trades.snapshot()] == ids
        assert errors.wait_count(1)
        err = errors.snapshot()[0]
        assert err.code == "recording_failed" and "missing-dir" in str(err)
        assert rec.is_active and rec.failures >= 1
    finally:
        assert conn.stop(5.0)


def test_record_validates_and_refuses_a_second_recording(fake: FakeBinance, tmp_path: pathlib.Path) -> None:
    conn = bc.Connector(fast_builder(fake).build())
    for kwargs, field in (({"path": ""}, "path"), ({"path": "x", "max_bytes": 100}, "max_bytes"),
                          ({"path": "x", "rotate_seconds": 0}, "rotate_seconds"),
                          ({"path": "x", "max_bytes": True}, "max_bytes")):
        with pytest.raises(bc.ValidationError) as info:
            conn.record(**kwargs)
        assert info.value.field == field
    rec = conn.record(str(tmp_path / "a.jsonl.gz"))
    with pytest.raises(bc.ValidationError):
        conn.record(str(tmp_path / "b.jsonl.gz"))
    assert conn.stop_recording(5.0) and not rec.is_active and not conn.stop_recording()
    assert conn.stop(5.0)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_inherit_the_recording(tmp_path: pathlib.Path) -> None:
    tap = Tap()
    rec = Recorder(str(tmp_path / "rec.jsonl.gz")).start()
    tap.rec = rec
    try:
        with warnings.catch_warnings():  # the writer thread runs: forking with it is the point here
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: exit at once, status = whether the tap was detached
            os._exit(0 if tap.rec is None else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        assert tap.rec is rec  # the parent records on
    finally:
        assert rec.stop(5.0)
