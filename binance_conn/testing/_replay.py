"""``FakeBinance.replay(path)``: serve a recording (``Connector.record``) to a connector under test.

A recording holds every raw stream frame a connector received and every REST response
it got, with receive times (format: ``binance_conn/_io/recorder.py``).  Replaying it:

* stream data frames (``{"stream": ..., "data": ...}``) go, verbatim and in recorded order,
  to the fake's open stream connections subscribed to that stream.  Before each frame the
  replay waits until some connection carries the stream (the connector under test has
  connected and subscribed), so nothing is sent into the void and the order never depends
  on thread timing; frames go out paced by the recorded receive times divided by ``speed``
  (``None`` or ``inf``: as fast as the connections take them).  Control replies of the
  recorded link (``{"result": null, "id": 1}``) are not replayed: the fake answers the
  new client's own SUBSCRIBEs.
* a recorded connection loss (a ``close`` line followed by more frames) is replayed by
  cutting the fake's connections carrying those streams at the same point: the connector
  reconnects, resubscribes and the frames recorded after the reconnect follow.
* user-data events (``wsapi`` / ``user`` lines) are pushed in recorded order to the fake's
  user-data subscriptions, and a recorded user-data link loss cuts them: see ``_replay_user.py``
  (answers to our WebSocket API requests are not replayed: the fake's engine answers).
* REST requests matching a recorded response (method, path and parameters, without
  ``signature``/``timestamp``/``recvWindow``) get that response (status, ``X-MBX-*``
  headers, body), in recorded order for repeated requests (the last one repeats); others
  (``/time``, ``/ping``, the listenKey routes, whatever was not recorded) are answered by the
  fake as usual.  The replay waits for a recorded GET to be asked before going on; a recorded
  POST/PUT/DELETE (an order the recorded application placed) is served if asked, never awaited.

Replay on a fake with ``market_rate=0`` (the default): the simulated market would add
frames the recording does not hold.  Deterministic: the same frames, in the same order,
every time.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple

from .._io.recorder import SECRET_PARAMS, recording_files
from ._replay_user import USER_KINDS, cut_sessions, cut_user, load_user_line, send_user

if TYPE_CHECKING:
    from ._fake import FakeBinance

__all__ = ["Replay", "start_replay", "read_recording"]

log = logging.getLogger(__name__)

Key = Tuple[str, str, Tuple[Tuple[str, str], ...]]
Answer = Tuple[int, Dict[str, str], bytes, bool]
_BACKLOG = 1000  # frames queued for one connection before the replay waits for it to read
# answered live: a recorded server time would skew the new client's clock; a recorded listenKey is masked
_LIVE_PATHS = ("/time", "/ping", "/listenKey", "/userDataStream")


def read_recording(path: str) -> List[Dict[str, Any]]:
    """Every line of the recording at ``path`` (all its parts, in order) as dicts."""
    files = recording_files(path)
    if not files:
        raise FileNotFoundError(f"no recording at {path}")
    out: List[Dict[str, Any]] = []
    for name in files:
        with gzip.open(name, "rt", encoding="utf-8") as fh:
            try:
                for line in fh:
                    if line.strip():
                        out.append(json.loads(line))
            except (EOFError, OSError, ValueError) as exc:  # a part cut short (crash, disk full): keep what was read
                log.warning("replay: %s ends early (%s); using what it holds", name, exc)
    return out


def _key(method: str, path: str, params: Mapping[str, Any]) -> Key:
    return method.upper(), path, tuple(sorted((str(k), str(v)) for k, v in params.items() if k not in SECRET_PARAMS))


class Replay:
    """A running replay (``FakeBinance.replay`` returns it).  Any thread may call its methods.

    Counters: ``sent`` frames delivered, ``missed`` frames no connection subscribed to within
    ``subscribe_timeout``, ``unwanted`` frames of streams the connected clients did not
    subscribe to within ``grace`` (skipped from then on at no wait), ``cuts`` connection losses
    replayed, ``rest_served`` requests answered from the recording, ``rest_skipped`` recorded
    responses nobody asked for within ``rest_timeout``; ``user_sent`` user-data events pushed,
    ``user_missed`` ones no connection took within ``subscribe_timeout``."""

    def __init__(self, fake: "FakeBinance", path: str, speed: Optional[float] = 1.0, *,
                 subscribe_timeout: float = 10.0, rest_timeout: float = 5.0, grace: float = 1.0,
                 settle: float = 0.2) -> None:
        if speed is not None and not (speed > 0):
            raise ValueError("speed must be > 0, or None for as fast as possible")
        self.fake = fake
        self.path = path
        self.speed = None if speed is None or math.isinf(speed) else float(speed)
        self.subscribe_timeout = float(subscribe_timeout)
        self.rest_timeout = float(rest_timeout)
        self.grace = float(grace)
        self.settle = float(settle)  # after a REST answer, before the next user-data event
        self._unwanted: Set[str] = set()
        self.unwanted = 0
        self.sent = 0
        self.missed = 0
        self.cuts = 0
        self.rest_served = 0
        self.rest_skipped = 0
        self.user_sent = 0
        self.user_missed = 0
        self.done = threading.Event()
        self._stop = threading.Event()
        self._paused = 0.0  # seconds spent waiting for subscribers / requests (the pacing clock stops)
        self._cond = threading.Condition()
        self._cursor = -1  # the step the replay thread is at: a REST answer waits for its step
        self._served: Set[int] = set()  # REST steps answered
        # per request key: (step index, response), in recorded order
        self._answers: Dict[Key, Deque[Tuple[int, Answer]]] = {}
        # (t, "ws", (stream, frame)) | (t, "cut", streams) | (t, "rest", key) | (t, "skip", None)
        self._steps: List[Tuple[int, str, Any]] = []
        self._load(read_recording(path))
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-binance-replay")

    def _load(self, lines: List[Dict[str, Any]]) -> None:
        carried: Dict[Any, Set[str]] = {}
        user_carried: Set[Any] = set()
        steps = self._steps
        last_frame = -1
        for line in lines:
            kind = line.get("k")
            t = int(line.get("t", 0))
            if kind in USER_KINDS or (kind == "close" and line.get("link")):
                step = load_user_line(line, user_carried)
                if step is not None:
                    steps.append((t, step[0], step[1]))
                    if step[0] == "user":
                        last_frame = len(steps) - 1
            elif kind == "rest":
                path = str(line.get("path", ""))
                if path.endswith(_LIVE_PATHS):
                    continue
                headers = {k: str(v) for k, v in (line.get("headers") or {}).items()}
                headers.setdefault("Content-Type", "application/json;charset=UTF-8")
                answer: Answer = (int(line.get("status", 200)), headers, str(line.get("body", "")).encode(), False)
                key = _key(str(line.get("method", "GET")), path, line.get("params") or {})
                self._answers.setdefault(key, deque()).append((len(steps), answer))
                steps.append((t, "rest" if key[0] == "GET" else "skip", key))
            elif kind == "ws":
                frame = line.get("frame")
                if not isinstance(frame, str) or '"stream"' not in frame:
                    continue
                try:
                    stream = json.loads(frame).get("stream")
                except ValueError:
                    continue
                if not isinstance(stream, str):
                    continue  # a control reply, not market data
                carried.setdefault(line.get("conn"), set()).add(stream)
                steps.append((t, "ws", (stream, frame)))
                last_frame = len(steps) - 1
            elif kind == "close":
                streams = carried.pop(line.get("conn"), None)
                if streams:
                    steps.append((t, "cut", frozenset(streams)))
        for i in range(last_frame + 1, len(steps)):  # losses after the last frame (the recorded stop): not replayed
            if steps[i][1] in ("cut", "ucut"):
                steps[i] = (steps[i][0], "skip", None)

    # ------------------------------------------------------------------ control
    def start(self) -> "Replay":
        self.fake._rest_app().replay = self.answer
        self.fake._threads.append(self._thread)
        self._thread.start()
        return self

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until every step is served (True) or ``timeout`` passes (False)."""
        return self.done.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving frames (recorded REST answers stay) and join the thread."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def total(self) -> int:
        """Stream frames the recording holds."""
        return sum(1 for s in self._steps if s[1] == "ws")

    def __repr__(self) -> str:
        return (f"Replay({self.path!r}, sent={self.sent}/{self.total}, missed={self.missed}, unwanted={self.unwanted}, "
                f"cuts={self.cuts}, "
                f"rest={self.rest_served}, rest_skipped={self.rest_skipped}, user={self.user_sent}, "
                f"user_missed={self.user_missed}, done={self.done.is_set()})")

    # ------------------------------------------------------------------ REST (server threads)
    def answer(self, method: str, path: str, params: Mapping[str, str]) -> Optional[Answer]:
        """The recorded response to this request, or None (the fake answers it).

        A response recorded after some frames is given once those frames are sent (the replay
        thread reached its step), and the frames recorded after it wait until it is given:
        the client sees frames and responses interleaved as recorded."""
        key = _key(method, path, params)
        with self._cond:
            answers = self._answers.get(key)
            if not answers:
                return None
            step, answer = answers.popleft() if len(answers) > 1 else answers[0]
            if step in self._served:  # asked again after the recorded ones ran out: the last one repeats
                return answer
            self._cond.wait_for(lambda: self._cursor >= step or self._stop.is_set(), self.rest_timeout)
            self._served.add(step)
            self.rest_served += 1
            self._cond.notify_all()
            return answer

    # ------------------------------------------------------------------ the replay thread
    def _run(self) -> None:
        fake = self.fake
        try:
            first: Optional[int] = None
            prev = ""
            base = time.monotonic()
            for index, (t, kind, data) in enumerate(self._steps):
                if self._stop.is_set() or fake._stopping.is_set():
                    return
                if first is None:
                    first = t
                if self.speed is not None:
                    due = base + self._paused + (t - first) / 1000.0 / self.speed
                    if self._stop.wait(max(0.0, due - time.monotonic())):
                        return
                with self._cond:
                    self._cursor = index
                    self._cond.notify_all()
                if kind == "ws":
                    self._send(*data)
                elif kind == "rest":
                    self._await_request(index)
                elif kind == "cut":
                    self._cut(data)
                elif kind == "user":
                    if prev == "rest" and self._stop.wait(self.settle):
                        return  # a REST answer just given (reconciliation): let its events out first
                    send_user(self, *data)
                elif kind == "ucut":
                    cut_user(self, data)
                prev = kind
        except Exception:  # noqa: BLE001 - a replay must never die silently
            log.exception("replay of %s failed", self.path)
        finally:
            with self._cond:
                self._cursor = len(self._steps)
                self._cond.notify_all()
            self.done.set()

    def _send(self, stream: str, frame: str) -> None:
        waited_from = time.monotonic()
        sessions = self._carriers(stream)
        self._paused += time.monotonic() - waited_from  # waiting for a subscriber pauses the recorded clock
        if sessions is None:
            return
        raw: Optional[str] = None
        for s in sessions:
            while s.outq.qsize() > _BACKLOG and not s.closed.is_set() and not self._stop.wait(0.001):
                pass  # as fast as the client reads, never into the fake's slow-consumer cut
            if not s.combined and raw is None:
                raw = json.dumps(json.loads(frame)["data"], separators=(",", ":"))
            s.enqueue(frame if s.combined or raw is None else raw)
        self.sent += 1

    def _await_request(self, index: int) -> None:
        """A recorded response: the steps recorded after it wait until the client asked for it."""
        waited_from = time.monotonic()
        with self._cond:
            if not self._cond.wait_for(lambda: index in self._served or self._stop.is_set(), self.rest_timeout):
                self.rest_skipped += 1
                log.info("replay: recorded response (step %d) not asked for within %g s; going on", index,
                         self.rest_timeout)
        self._paused += time.monotonic() - waited_from

    def _carriers(self, stream: str) -> Optional[List[Any]]:
        """The open stream connections subscribed to ``stream`` (waits for one; None: none came)."""
        fake = self.fake
        found: List[Any] = []

        def ready() -> bool:
            found[:] = []
            for s in fake._open_sessions("stream"):
                with s.lock:
                    if stream in s.streams and not s.closed.is_set():
                        found.append(s)
            return bool(found) or self._stop.is_set()

        if ready() and found:
            return found
        if stream in self._unwanted:
            self.unwanted += 1
            return None
        # Connected clients that do not take this stream within a grace: it is not wanted (skip
        # its frames from now on, at no wait).  No client yet (or reconnecting): wait longer.
        clients = bool(fake._open_sessions("stream"))
        if not fake.wait_until(ready, min(self.grace, self.subscribe_timeout) if clients else self.subscribe_timeout):
            if fake._open_sessions("stream"):
                self._unwanted.add(stream)
                self.unwanted += 1
                log.info("replay: no connected client subscribes to %s; its frames are skipped", stream)
                return None
            if not self._stop.is_set():
                self.missed += 1
                log.warning("replay: no connection subscribed to %s within %g s; frame skipped", stream,
                            self.subscribe_timeout)
            return None
        return found or None

    def _cut(self, streams: FrozenSet[str]) -> None:
        """Replay a recorded connection loss: cut the connections carrying those streams, after
        the frames queued before the loss reached the client (as recorded)."""
        victims = []
        for s in self.fake._open_sessions("stream"):
            with s.lock:
                if s.streams & streams:
                    victims.append(s)
        cut_sessions(self, victims, "replayed connection loss")


def start_replay(fake: "FakeBinance", path: str, speed: Optional[float] = 1.0, **options: Any) -> Replay:
    """``FakeBinance.replay(path, speed=1.0)``: load the recording at ``path`` (every part, in order)
    and start serving it to the connected clients (see the module docstring); returns the
    :class:`Replay` (``wait()``, ``done``, counters).  ``speed``: 1.0 the recorded pace, 2.0 twice
    as fast, ``None`` or ``float("inf")`` as fast as the clients take it.  ``options``:
    ``subscribe_timeout``, ``rest_timeout``, ``grace``, ``settle`` (seconds)."""
    return Replay(fake, path, speed, **options).start()
