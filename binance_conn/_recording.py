"""Connector mixin: ``conn.record(path)`` (issue 16: record every raw frame and REST response).

The connector owns one :class:`~binance_conn._io.recorder.Tap` (``_tap``), handed to each
market session and REST client it builds (the user-data links, spot WebSocket API and
futures listenKey stream, reach it through the REST client, once per connection); attaching a
:class:`~binance_conn._io.recorder.Recorder` to it starts recording, detaching it stops.
``Config.recording`` (``with_recording``) starts a recording at every ``start()``; every
``stop()`` ends the recording in progress (its writer thread is joined with the stop's
deadline).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Optional, cast

from ._io.recorder import Recorder, Tap
from .config import check_recording_path
from .errors import BinanceError, ValidationError

__all__ = ["RecordingMixin"]

_MIN_BYTES = 4096
_CREATE = threading.Lock()


class RecordingMixin:
    """``record()`` / ``stop_recording()`` on :class:`~binance_conn.Connector`."""

    @property
    def _tap(self) -> Tap:
        tap: Optional[Tap] = self.__dict__.get("_rec_tap")
        if tap is None:
            with _CREATE:
                tap = self.__dict__.setdefault("_rec_tap", Tap())
        return tap

    @property
    def recording(self) -> Optional[Recorder]:
        """The recording in progress (its ``files``, ``lines``, ``dropped``), or None."""
        return self._tap.rec

    def record(self, path: str, *, max_bytes: Optional[int] = None,
               rotate_seconds: Optional[float] = None) -> Recorder:
        """Record every raw frame received (market streams, the user-data links: WebSocket API and
        futures user stream) and every REST response, with receive times, to ``path``.

        gzip JSON Lines (see ``_io/recorder.py`` for the format), rotated to numbered parts
        (``rec.1.jsonl.gz``...) after ``max_bytes`` compressed bytes or ``rotate_seconds``;
        replay it with ``FakeBinance.replay(path)``.  API keys, signatures and listenKeys are
        never written (masked as ``***`` where the exchange echoes them).  One writer thread;
        the readers never wait on the disk (a full queue drops lines, counted in ``dropped``).
        Any thread; returns at once.

        Returns:
            the :class:`Recorder` (``stop()``, ``files``, ``lines``, ``dropped``); ``stop()``
            here or :meth:`stop_recording` ends it, as does ``Connector.stop()``.

        Raises:
            ValidationError: a bad argument (``path`` a directory, or its directory missing or
                not writable), or a recording is in progress already.  A disk failing later is
                logged, reported on ``on_error`` and retried (see ``_io/recorder.py``).
        """
        if not isinstance(path, str) or not path:
            raise ValidationError("path", path, "must be a file path")
        check_recording_path("path", path)
        if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
                                      or max_bytes < _MIN_BYTES):
            raise ValidationError("max_bytes", max_bytes, f"must be an int >= {_MIN_BYTES} or None")
        if rotate_seconds is not None and (isinstance(rotate_seconds, bool)
                                           or not isinstance(rotate_seconds, (int, float)) or not rotate_seconds > 0):
            raise ValidationError("rotate_seconds", rotate_seconds, "must be a positive number or None")
        tap = self._tap
        with _CREATE:
            current = tap.rec
            if current is not None and current.is_active:
                raise ValidationError("path", path, f"already recording to {current.path}: stop_recording() first")
            rec = Recorder(path, max_bytes=max_bytes, rotate_seconds=rotate_seconds, on_error=self._record_error,
                           exchange=str(cast(Any, self)._config.exchange.name))
            rec.start()
            tap.rec = rec
        return rec

    def stop_recording(self, timeout: float = 5.0) -> bool:
        """End the recording in progress: queued lines written, file flushed and closed, writer
        joined within ``timeout``.  Any thread; never raises.

        Returns:
            True when a recording was in progress and has ended (its writer joined within
            ``timeout``); False when nothing was recording (none started, or ended already) or
            the writer is still running after ``timeout``."""
        rec = self._detach_recorder()
        if rec is None:
            return False
        was_recording = rec.is_active
        return rec.stop(timeout) and was_recording

    def _detach_recorder(self) -> Optional[Recorder]:
        tap = self._tap
        with _CREATE:
            rec, tap.rec = tap.rec, None
        return rec

    def _record_error(self, err: BinanceError) -> None:
        cast(Any, self)._market.publish_error(err)

    # ------------------------------------------------------------------ hooks (connector.py)
    def _record_on_start(self) -> None:
        """``start()``: begin the configured recording (``with_recording``), unless one runs."""
        cfg = getattr(cast(Any, self)._config, "recording", None)
        if cfg is not None and self._tap.rec is None:
            self.record(cfg.path, max_bytes=cfg.max_bytes, rotate_seconds=cfg.rotate_seconds)

    def _record_on_stop(self, deadline: float) -> bool:
        """``stop()``, after the readers are joined: end the recording within the stop's deadline."""
        rec = self._detach_recorder()
        return True if rec is None else rec.stop(max(0.0, deadline - time.monotonic()))
