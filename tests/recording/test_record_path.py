"""A recording path that cannot be written is refused up front (``conn.record()``, ``with_recording``
at ``build()``, the demo's ``--record``), and ``stop_recording()`` says whether it ended one."""

from __future__ import annotations

import os
import pathlib
from typing import Any, Iterator

import pytest
from _helpers import scaled
from _rec_helpers import binance_threads

import binance_conn as bc
from binance_conn import demo
from binance_conn.testing import FakeBinance


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance(["BTCUSDT"], market_rate=0) as f:
        yield f


def _bad_paths(tmp_path: pathlib.Path) -> "list[tuple[str, str]]":
    folder = tmp_path / "folder"
    folder.mkdir()
    return [
        (str(tmp_path / "nonexistent" / "dir" / "x.jsonl.gz"), "does not exist"),
        (str(folder), "is a directory"),
        (str(tmp_path / "nodir") + os.sep, "is a directory"),
    ]


def test_record_refuses_a_path_it_cannot_write(fake: FakeBinance, tmp_path: pathlib.Path) -> None:
    conn = bc.Connector(fake.config_builder().build())
    before = set(binance_threads())
    for path, why in _bad_paths(tmp_path):
        with pytest.raises(bc.ValidationError) as info:
            conn.record(path)
        assert info.value.field == "path" and why in str(info.value) and path in str(info.value), path
        assert conn.recording is None
    assert set(binance_threads()) == before  # no writer thread was started
    assert conn.stop(5.0)


def test_with_recording_refuses_it_at_build(fake: FakeBinance, tmp_path: pathlib.Path) -> None:
    for path, why in _bad_paths(tmp_path):
        with pytest.raises(bc.ValidationError) as info:
            fake.config_builder().with_recording(path).build()
        assert info.value.field == "recording.path" and why in str(info.value), path
    assert fake.config_builder().with_recording(str(tmp_path / "ok.jsonl.gz")).build().recording is not None


def test_a_directory_that_is_not_writable_is_refused(fake: FakeBinance, tmp_path: pathlib.Path,
                                                      monkeypatch: Any) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    # root may write anywhere: report the directory read-only the way os.access would for a user
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if os.fspath(p) == str(locked)
                        else real_access(p, mode, **kw))
    path = str(locked / "x.jsonl.gz")
    conn = bc.Connector(fake.config_builder().build())
    with pytest.raises(bc.ValidationError, match="not writable") as info:
        conn.record(path)
    assert info.value.field == "path"
    with pytest.raises(bc.ValidationError, match="not writable"):
        fake.config_builder().with_recording(path).build()
    assert conn.stop(5.0)


def test_the_demo_refuses_a_bad_record_path(tmp_path: pathlib.Path, capsys: Any) -> None:
    with pytest.raises(SystemExit):
        demo._parse_args(["--record", str(tmp_path / "missing" / "demo.jsonl.gz")])
    assert "does not exist" in capsys.readouterr().err


def test_stop_recording_is_false_when_nothing_records(fake: FakeBinance, tmp_path: pathlib.Path) -> None:
    conn = bc.Connector(fake.config_builder().build())
    assert conn.stop_recording() is False  # never started
    rec = conn.record(str(tmp_path / "a.jsonl.gz"))
    assert conn.stop_recording(5.0) is True and not rec.is_active
    assert conn.stop_recording() is False  # ended already
    rec = conn.record(str(tmp_path / "b.jsonl.gz"))
    assert rec.stop(5.0)
    assert conn.stop_recording() is False  # ended through the Recorder itself
    conn.start()
    assert conn.wait_ready(scaled(10))
    assert conn.stop(5.0)  # a run with nothing recording still stops in time
