"""RFC 6455 frame parsing, sans-I/O: bytes in, frames out.

Theory of operation
-------------------
Like ``h11`` and ``websockets``' ``protocol.py``, :class:`FrameParser` never touches a
socket.  The transport's reader thread does exactly this::

    frames = parser.feed(sock.recv(65536))     # complete frames, wire order
    for payload in parser.take_pings(): pong(payload)
    if parser.closed: echo a close frame, end the connection
    on FrameError as err: send close err.code, end the connection

``feed`` cuts every complete frame out of the bytes received so far (section 5.2)
and returns ``(opcode, payload)`` pairs: text and binary messages (fragments
reassembled, section 5.4), pings and pongs.  A close frame is not returned: it sets
:attr:`FrameParser.closed` with :attr:`close_code`/:attr:`close_reason` and
everything after it is ignored (section 5.5.1).  What is left of an incomplete frame
is kept; bytes of a frame still far from complete are collected in a list and joined
once, when the frame is whole (a 1 MiB frame arriving in 64 KiB reads is copied once,
not sixteen times).

Protocol violations raise :class:`FrameError` with the close code the transport must
send before it cuts the socket: 1002 for a control frame longer than 125 bytes or
fragmented (section 5.5), reserved bits or opcodes, a continuation frame with no
message to continue or a new message inside a fragmented one (section 5.4), a bad
close payload (section 7.4); 1009 for a frame or message larger than ``max_size``;
1007 for a close reason that is not UTF-8.  A parser that raised stays failed.

Servers must not mask their frames (section 5.1); a masked frame is unmasked
rather than refused (lenient, as before).  Text frames are not UTF-8 checked here:
the session decodes them with ``bytes.decode`` (in C) and counts the failures.

Hot path: a binance frame is an unmasked, final text frame of 126..65535 bytes.  It
costs two byte reads for the header, one comparison to recognise it and one slice; no
per-frame method calls, no per-frame allocations beyond the payload and its tuple.

Thread-safety: none; the transport's reader thread owns the parser.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

__all__ = [
    "FrameParser",
    "FrameError",
    "OP_CONT",
    "OP_TEXT",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_PING",
    "OP_PONG",
    "MAX_FRAME",
    "MAX_CONTROL",
    "CLOSE_NORMAL",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_INVALID_DATA",
    "CLOSE_TOO_BIG",
    "is_valid_close_code",
]

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

MAX_FRAME = 16 * 1024 * 1024
"""Largest frame (and reassembled message) accepted by default; Binance frames are a few
KiB, a full depth snapshot about 1 MiB."""
MAX_CONTROL = 125
"""RFC 6455 section 5.5: control frames carry at most 125 bytes and are never fragmented."""

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009

_FAST_TEXT = 0x81  # FIN + text, no RSV bits: the one header byte the hot path looks for

Frame = Tuple[int, bytes]


def is_valid_close_code(code: int) -> bool:
    """Codes a peer may send in a close frame (RFC 6455 section 7.4, IANA registry)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


class FrameError(Exception):
    """The peer broke RFC 6455; fail the connection with close ``code`` (1002, 1007 or 1009).

    ``reason`` is short clean text, also sent as the close reason.
    """

    def __init__(self, reason: str, code: int = CLOSE_PROTOCOL_ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def _unmask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if not n:
        return payload
    mask = (key * ((n + 3) // 4))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(n, "big")


class FrameParser:
    """Cuts RFC 6455 frames out of a byte stream received by a client (see the module docstring).

    Args:
        max_size: largest frame, and largest reassembled message, accepted (bytes).
    """

    __slots__ = ("max_size", "closed", "ended", "has_pings", "close_code", "close_reason", "_pings", "_parts",
                 "_have", "_need", "_fragments", "_frag_opcode", "_frag_size", "_error")

    def __init__(self, max_size: int = MAX_FRAME) -> None:
        if max_size < MAX_CONTROL:
            raise ValueError(f"max_size must be at least {MAX_CONTROL}")
        self.max_size = max_size
        self.closed = False
        """True once a close frame arrived; ``feed`` then ignores what follows."""
        self.ended = False
        """True once a close frame arrived or the peer violated the protocol (see :attr:`error`).
        A plain attribute, not a property: the reader checks it after every socket read."""
        self.has_pings = False
        """True when pings arrived that were not yet taken with :meth:`take_pings` (plain attribute)."""
        self.close_code: Optional[int] = None
        """The code of the peer's close frame, ``None`` when it carried none (1005)."""
        self.close_reason = ""
        self._pings: List[bytes] = []
        self._parts: List[bytes] = []  # an incomplete frame: its bytes so far, joined when whole
        self._have = 0
        self._need = 0
        self._fragments: List[bytes] = []
        self._frag_opcode = 0
        self._frag_size = 0
        self._error: Optional[FrameError] = None

    @property
    def error(self) -> Optional[FrameError]:
        """The protocol violation that failed this parser, if any."""
        return self._error

    def take_pings(self) -> List[bytes]:
        """The payloads of the pings received since the last call; each wants a pong echoing it."""
        pings = self._pings
        self._pings = []
        self.has_pings = False
        return pings

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete frame."""
        return self._have

    def feed(self, data: bytes) -> List[Frame]:
        """Take bytes from the socket; return the frames they complete, in wire order.

        When a violation follows complete frames in the same bytes, those frames are returned
        first and :attr:`ended` and :attr:`error` say what happened; the next call raises.

        Raises:
            FrameError: the peer violated RFC 6455 (also on every later call).
        """
        if self._error is not None:
            raise self._error
        if self.closed:
            return []
        if self._have:
            self._parts.append(data)
            self._have += len(data)
            if self._have < self._need:
                return []
            buf = b"".join(self._parts)
            self._parts = []
            self._have = 0
        else:
            buf = data
        out: List[Frame] = []
        try:
            append = out.append
            max_size = self.max_size
            fast = -1 if self._frag_opcode else _FAST_TEXT  # inside a fragmented message no text frame is "fast"
            pos = 0
            end = len(buf)
            need = 0
            while True:
                if end - pos < 2:
                    need = pos + 2
                    break
                b0 = buf[pos]
                b1 = buf[pos + 1]
                length = b1 & 0x7F
                if length < 126:
                    start = pos + 2
                elif length == 126:
                    if end - pos < 4:
                        need = pos + 4
                        break
                    length = (buf[pos + 2] << 8) | buf[pos + 3]
                    start = pos + 4
                else:
                    if end - pos < 10:
                        need = pos + 10
                        break
                    length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                    start = pos + 10
                if length > max_size:
                    raise self._fail(f"frame of {length} bytes exceeds the {max_size}-byte limit", CLOSE_TOO_BIG)
                if b1 & 0x80:
                    start += 4
                stop = start + length
                if stop > end:
                    if b0 & 0x08 and length > MAX_CONTROL:  # refuse before buffering it
                        raise self._control_too_long(b0, length)
                    need = stop
                    break
                if b0 == fast and b1 < 0x80:
                    append((OP_TEXT, buf[start:stop]))
                    pos = stop
                    continue
                payload = buf[start:stop]
                if b1 & 0x80:
                    payload = _unmask(payload, buf[start - 4 : start])
                pos = stop
                if self._other(b0, payload, out):
                    return out  # a close frame: nothing after it counts
                fast = -1 if self._frag_opcode else _FAST_TEXT
        except FrameError:
            if out:
                return out  # the frames before the violation; the next feed() raises (see .error)
            raise
        if pos < end:
            self._parts.append(buf[pos:] if pos else buf)
            self._have = end - pos
            self._need = need - pos
        return out

    # ------------------------------------------------------------------ the rare frames
    def _other(self, b0: int, payload: bytes, out: List[Frame]) -> bool:
        """Every frame but an unfragmented text frame; True after a close frame."""
        if b0 & 0x70:
            raise self._fail("reserved bits set without a negotiated extension")
        opcode = b0 & 0x0F
        fin = b0 & 0x80
        if opcode & 0x08:  # control frame (section 5.5)
            if len(payload) > MAX_CONTROL:
                raise self._control_too_long(b0, len(payload))
            if not fin:
                raise self._fail(f"fragmented control frame (opcode {opcode:#x})")
            if opcode == OP_PING:
                self._pings.append(payload)
                self.has_pings = True
                out.append((OP_PING, payload))
            elif opcode == OP_PONG:
                out.append((OP_PONG, payload))
            elif opcode == OP_CLOSE:
                self._on_close(payload)
                return True
            else:
                raise self._fail(f"reserved control opcode {opcode:#x}")
            return False
        if opcode == OP_TEXT or opcode == OP_BINARY:
            if self._frag_opcode:
                raise self._fail("new message inside a fragmented message")
            if fin:
                out.append((opcode, payload))
            else:
                self._frag_opcode = opcode
                self._fragments = [payload]
                self._frag_size = len(payload)
            return False
        if opcode == OP_CONT:
            if not self._frag_opcode:
                raise self._fail("continuation frame without a message to continue")
            self._fragments.append(payload)
            self._frag_size += len(payload)
            if self._frag_size > self.max_size:
                raise self._fail(f"fragmented message of more than {self.max_size} bytes exceeds the limit",
                                 CLOSE_TOO_BIG)
            if fin:
                out.append((self._frag_opcode, b"".join(self._fragments)))
                self._fragments = []
                self._frag_opcode = 0
                self._frag_size = 0
            return False
        raise self._fail(f"reserved data opcode {opcode:#x}")

    def _on_close(self, payload: bytes) -> None:
        if len(payload) == 1:
            raise self._fail("close frame with a 1-byte payload")
        code: Optional[int] = None
        reason = ""
        if payload:
            code = (payload[0] << 8) | payload[1]
            if not is_valid_close_code(code):
                raise self._fail(f"close frame with invalid code {code}")
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                raise self._fail("close reason is not valid UTF-8", CLOSE_INVALID_DATA) from None
        self.closed = True
        self.ended = True
        self.close_code = code
        self.close_reason = reason
        self._parts = []
        self._have = 0

    def _control_too_long(self, b0: int, length: int) -> FrameError:
        return self._fail(f"control frame (opcode {b0 & 0x0F:#x}) of {length} bytes; at most {MAX_CONTROL} allowed")

    def _fail(self, reason: str, code: int = CLOSE_PROTOCOL_ERROR) -> FrameError:
        err = FrameError(reason, code)
        self._error = err
        self.ended = True
        self._parts = []
        self._have = 0
        self._fragments = []
        return err
