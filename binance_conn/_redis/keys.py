"""The Redis keys of one hub (``prefix``): shared by the hub and its feeds."""

from __future__ import annotations

from typing import Tuple

__all__ = ["HubKeys", "parse_id"]


class HubKeys:
    """``<prefix>:<topic>`` one stream per topic (a Binance stream name, or a book topic);
    ``<prefix>:__control__`` the hub's ConnectionEvents and GapEvents; ``<prefix>:__hub__`` a hash
    (``state``, ``reason``, ``heartbeat`` epoch ms, ``topics``); ``<prefix>:__wanted__`` the set of
    topics feeds asked for; ``<prefix>:__refused__`` topic -> why the hub could not hold it;
    ``<prefix>:__owner__`` the live hub's claim on the prefix (``owner.py``, with a TTL);
    ``<prefix>:__feed__:<name>`` a named feed's positions (topic -> last delivered stream id)."""

    __slots__ = ("prefix", "control", "hub", "wanted", "refused", "owner")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.control = f"{prefix}:__control__"
        self.hub = f"{prefix}:__hub__"
        self.wanted = f"{prefix}:__wanted__"
        self.refused = f"{prefix}:__refused__"
        self.owner = f"{prefix}:__owner__"

    def stream(self, topic: str) -> str:
        return f"{self.prefix}:{topic}"

    def feed(self, name: str) -> str:
        return f"{self.prefix}:__feed__:{name}"


def parse_id(stream_id: object) -> Tuple[int, int]:
    """``b"1700000000000-3"`` / ``"1700000000000-3"`` -> ``(1700000000000, 3)``."""
    text = stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)
