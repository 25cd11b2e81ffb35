"""One live hub per prefix: the owner key ``<prefix>:__owner__`` (``HubKeys.owner``).

Theory of operation.  A hub claims the key with a value naming this run (a random id, host, pid,
since when) and a TTL of a few heartbeat intervals (:meth:`HubOwner.claim`, one Lua script: take
it when free, refresh its TTL when it holds our value, else return the holder's value).  The hub's
control thread claims again at every heartbeat, so a key lost while the hub ran (Redis restarted
or flushed, the TTL lapsed during a long outage) is taken back as soon as Redis answers, unless
another hub holds it by then.  :meth:`HubOwner.release` deletes the key only while it holds our
value (a clean stop), so a hub that died leaves it to expire within the TTL.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any, Mapping, Optional, Union

__all__ = ["HubOwner", "CLAIMED", "KEPT"]

CLAIMED = 1
"""The key was free (first claim, or a lost key taken back)."""
KEPT = 0
"""The key held our value: its TTL was refreshed."""

# KEYS[1] owner key; ARGV[1] our value, ARGV[2] TTL ms -> 1 taken, 0 ours (refreshed), else the holder's value
_CLAIM = """
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
return v
"""

# KEYS[1] owner key, KEYS[2] the hub's hash; ARGV[1] our value, ARGV[2..] field, value... -> 1 done,
# 0 another hub's (nothing written). A lapsed (free) key still gets the final state.
_RELEASE = """
local v = redis.call('GET', KEYS[1])
if v and v ~= ARGV[1] then
  return 0
end
if #ARGV > 1 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 2))
end
redis.call('DEL', KEYS[1])
return 1
"""


class HubOwner:
    """The owner key of one hub (module doc). ``ttl`` in seconds."""

    __slots__ = ("key", "ttl", "value", "held")

    def __init__(self, key: str, ttl: float) -> None:
        self.key = key
        self.ttl = ttl
        self.value: Optional[str] = None  # our value while we claim (None: not started, or forked)
        self.held = False  # the last claim succeeded and no release since

    def new_run(self) -> None:
        """A fresh value for a new ``start()`` (so a forked child never passes for its parent)."""
        self.value = json.dumps({"id": os.urandom(8).hex(), "host": socket.gethostname(), "pid": os.getpid(),
                                 "since": int(time.time() * 1000)}, separators=(",", ":"))
        self.held = False

    def forget(self) -> None:
        """In a forked child: the parent's claim is not ours (never refreshed nor deleted here)."""
        self.value = None
        self.held = False

    def claim(self, client: Any) -> Union[int, str]:
        """:data:`CLAIMED`, :data:`KEPT`, or the holder's value (another hub). Redis errors propagate."""
        assert self.value is not None, "new_run() first"
        result = client.eval(_CLAIM, 1, self.key, self.value, max(1, int(self.ttl * 1000)))
        if isinstance(result, int):
            self.held = True
            return result
        self.held = False
        return result.decode("utf-8", "replace") if isinstance(result, bytes) else str(result)

    def release(self, client: Any, state_key: str, state: Mapping[str, Any]) -> bool:
        """Write the final ``state`` into the hash ``state_key`` and delete the key, both only if the key
        holds our value or has lapsed (True); never over another hub's. Redis errors propagate."""
        value, self.held = self.value, False
        if value is None:
            return False
        fields = [x for pair in state.items() for x in pair]
        return bool(client.eval(_RELEASE, 2, self.key, state_key, value, *fields))

    def describe(self, prefix: str, holder: str) -> str:
        """The refusal: who holds ``prefix``, since when, and when its claim lapses if it died."""
        try:
            info = json.loads(holder)
            since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(info["since"]) / 1000))
            who = f" (host {info['host']}, pid {info['pid']}, since {since})"
        except (ValueError, KeyError, TypeError):
            who = ""
        return (f"another hub is publishing under prefix {prefix!r}{who}: one hub per prefix (stop it, or use "
                f"another --prefix; a hub that died without stopping frees it within {self.ttl:g} s)")
