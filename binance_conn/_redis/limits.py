"""Request weight, ban gate, order counts and connection attempts shared through Redis.

Theory of operation (``with_shared_limits``; Binance limits per IP, reference section 4):

* Every decision is one Lua script, so it is atomic across the fleet and costs one
  round trip.  Keys live under ``binance_conn:{<key>}:...`` (the braces keep a key's
  data in one Redis Cluster slot) and expire on their own.
* Request weight, per limited window (``"1M"``...), in a hash per *aligned* window
  index (``...:w:1M:<epoch // 60>``), so every process agrees on the window without
  talking: ``r`` = weight the fleet reserved in it, ``f`` = weight in flight, ``u`` =
  the highest ``X-MBX-USED-WEIGHT-*`` any process saw.  The estimate is the local
  limiter's, ``max(r, u + f)``, plus what is still in flight from the *previous*
  window (a request sent just before a boundary may be counted by Binance in the new
  window).  :data:`RESERVE` checks the ban and books ``weight`` in every window, or
  answers how long until it fits.  :data:`COMPLETE` releases the in-flight weight and
  folds in the response headers with ``max``; a request that ended within
  :func:`landing_guard` of (or past) its window's end is booked into the window where
  it may have landed.
* The ban gate is a hash (``kind``, ``message``, ``code``, ``status``) whose PX expiry
  is the ban: Redis ends it, no clock of ours decides, and every process sees it on its
  next reservation.
* Connection attempts: a sorted set of attempt times (Redis ``TIME``), a sliding window
  of ``connection_budget_window`` seconds.
* Order counts (per account, keyed by a hash of the API key, never the key): the latest
  ``X-MBX-ORDER-COUNT-*`` per window, newest response wins.

This module holds the Redis side only; the REST limiter that falls back to local
limiting is ``binance_conn._rest.shared``.  Any Redis failure answers ``None`` (see
:mod:`.link`) and the caller limits locally.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from .._core.pacing import ConnectionBudget
from .._core.ratelimit import OrderCounter, landing_guard, window_seconds
from .link import RedisLink, link_for, op_timeout

__all__ = [
    "RESERVE", "COMPLETE", "READ", "TRIP", "GATE", "CONNECT", "ORDERS",
    "SharedWindows", "SharedConnectionBudget", "SharedOrderCounter", "LockedOrderCounter",
    "key_prefix", "shared_key", "landing_guard", "connection_budget", "order_counter",
]

RESERVE = """
local ban = redis.call('PTTL', KEYS[1])
if ban > 0 then
  local g = redis.call('HMGET', KEYS[1], 'kind', 'message', 'code', 'status')
  return {1, ban, g[1], g[2], g[3], g[4]}
end
local w = tonumber(ARGV[1])
local delay = 0
local out = {0}
for i = 1, (#KEYS - 1) / 2 do
  local c = redis.call('HMGET', KEYS[2 * i], 'r', 'f', 'u')
  local own = math.max(tonumber(c[1]) or 0, (tonumber(c[3]) or 0) + (tonumber(c[2]) or 0))
  local pf = tonumber(redis.call('HGET', KEYS[2 * i + 1], 'f')) or 0
  local limit, left = tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  if own + pf + w > limit then
    if own + w > limit then
      delay = math.max(delay, left)
    else
      delay = math.max(delay, math.min(left, 20))
    end
  end
  out[i + 1] = own + pf
end
if delay > 0 then
  out[1] = 2
  table.insert(out, 2, delay)
  return out
end
for i = 1, (#KEYS - 1) / 2 do
  redis.call('HINCRBY', KEYS[2 * i], 'r', w)
  redis.call('HINCRBY', KEYS[2 * i], 'f', w)
  redis.call('PEXPIRE', KEYS[2 * i], ARGV[3 * i + 1])
  out[i + 1] = out[i + 1] + w
end
return out
"""
"""KEYS: ban, then (current, previous) window hash per limited window; ARGV: weight, then
(limit, ms until the window ends, ttl ms) per window.  ``{0, est...}`` booked, ``{2, ms, est...}``
wait, ``{1, ttl_ms, kind, message, code, status}`` banned; ``est``: the fleet's estimate per
window (after the booking), which the local copy keeps for a fallback."""

COMPLETE = """
local w = tonumber(ARGV[1])
for i = 1, #KEYS / 2 do
  local kr, kl = KEYS[2 * i - 1], KEYS[2 * i]
  local rep, ttl = tonumber(ARGV[3 * i]), ARGV[3 * i + 1]
  if ARGV[3 * i - 1] == '1' then
    local f = tonumber(redis.call('HGET', kr, 'f')) or 0
    if w > 0 and f >= w then redis.call('HINCRBY', kr, 'f', -w) end
    if w > 0 and kl ~= kr then
      redis.call('HINCRBY', kl, 'r', w)
      redis.call('PEXPIRE', kl, ttl)
    end
  end
  if rep >= 0 then
    local u = tonumber(redis.call('HGET', kr, 'u')) or -1
    if rep > u then
      redis.call('HSET', kr, 'u', rep)
      redis.call('PEXPIRE', kr, ttl)
    end
  end
end
return 0
"""
"""KEYS: (window of the booking, window where the request may have landed) per window;
ARGV: weight, then (booked '1'/'0', reported used weight or -1, ttl ms) per window."""

READ = """
local out = {}
for i = 1, #KEYS / 2 do
  local c = redis.call('HMGET', KEYS[2 * i - 1], 'r', 'f', 'u')
  out[#out + 1] = tonumber(c[1]) or 0
  out[#out + 1] = tonumber(c[2]) or 0
  out[#out + 1] = tonumber(c[3]) or 0
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[2 * i], 'f')) or 0
end
return out
"""
"""KEYS: (current, previous) window hash per window; answers r, f, u, previous f per window."""

TRIP = """
local cur = redis.call('PTTL', KEYS[1])
if cur < 0 then cur = 0 end
local ttl = tonumber(ARGV[1])
if ttl >= cur or ARGV[2] == 'ip_banned' then
  redis.call('HSET', KEYS[1], 'kind', ARGV[2], 'message', ARGV[3], 'code', ARGV[4], 'status', ARGV[5])
end
if ttl > cur then redis.call('PEXPIRE', KEYS[1], ttl) end
return math.max(ttl, cur)
"""
"""Close the gate for ``ttl`` ms (extends, never shortens; a ban's text wins as BanGate's does)."""

GATE = """
local ban = redis.call('PTTL', KEYS[1])
if ban <= 0 then return {0} end
local g = redis.call('HMGET', KEYS[1], 'kind', 'message', 'code', 'status')
return {1, ban, g[1], g[2], g[3], g[4]}
"""

CLEAR = "return redis.call('DEL', KEYS[1])"

CONNECT = """
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
local n = redis.call('ZCARD', KEYS[1])
if n < tonumber(ARGV[1]) then
  if ARGV[4] == '1' then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], win + 1000)
    n = n + 1
  end
  return {0, n}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {math.max(1, tonumber(first[2]) + win - now), n}
"""
"""KEYS: the attempt log; ARGV: limit, window ms, a unique member, '1' to record an attempt.
``{0, n}``: fits (n attempts in the window); ``{ms, n}``: wait that long."""

ORDERS = """
for i = 2, #ARGV, 4 do
  local idx, at = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  local keep = false
  if old then
    local oi, oa = string.match(old, '^(%-?%d+):(%d+):')
    oi, oa = tonumber(oi), tonumber(oa)
    keep = oi ~= nil and (oi > idx or (oi == idx and oa > at))
  end
  if not keep then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. ':' .. ARGV[i + 2] .. ':' .. ARGV[i + 3])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 0
"""
"""KEYS: the account's counts; ARGV: ttl ms, then (window, index, at ms, count) per window."""

ORDERS_READ = "return redis.call('HGETALL', KEYS[1])"


def shared_key(config: Any) -> str:
    """The egress key: ``rate_limit.shared_key``, else the REST host (``scheme://netloc``)."""
    key = config.rate_limit.shared_key
    if key:
        return str(key)
    parts = urlsplit(config.exchange.rest_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def key_prefix(key: str, host: str) -> str:
    """``binance_conn:{key}`` (plus the REST host when the key is not it: spot and futures keep
    their own budgets behind one egress key)."""
    host = host.lower()
    return f"binance_conn:{{{key}}}" + ("" if host == key else f":{host}")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return int(_text(value))
    except ValueError:
        return None


class SharedWindows:
    """The Redis side of one egress key's weight windows and ban gate (no fallback here:
    every method answers None when Redis is unusable).

    Args:
        link: the process's :class:`RedisLink` to the fleet's Redis.
        prefix: :func:`key_prefix` of the budget.
    """

    __slots__ = ("link", "prefix", "ban_key")

    def __init__(self, link: RedisLink, prefix: str) -> None:
        self.link = link
        self.prefix = prefix
        self.ban_key = f"{prefix}:ban"

    def window_key(self, name: str, index: int) -> str:
        return f"{self.prefix}:w:{name}:{index}"

    def reserve(self, weight: int, now: float, windows: Sequence[Tuple[str, int, int]]) -> Optional[List[Any]]:
        """Check the ban and book ``weight`` at ``now`` (epoch s, server-aligned) in ``windows``
        ((name, seconds, limit) each); the script's answer (see :data:`RESERVE`)."""
        keys = [self.ban_key]
        args: List[Any] = [weight]
        for name, seconds, limit in windows:
            index = int(now // seconds)
            keys.append(f"{self.prefix}:w:{name}:{index}")
            keys.append(f"{self.prefix}:w:{name}:{index - 1}")
            args.append(limit)
            # a wait lasts past the boundary by the guard (our clock's estimate of Binance's)
            args.append(max(1, int(((index + 1) * seconds - now + landing_guard(seconds)) * 1000.0 + 0.999)))
            args.append(seconds * 2000 + 5000)
        result = self.link.run(RESERVE, keys, args)
        return None if result is None else list(result)

    def complete(self, weight: int, reserved_at: float, now: float, windows: Sequence[Tuple[str, int, int]],
                 used: Optional[Mapping[str, int]], booked: bool) -> Optional[int]:
        """Release a booking made by :meth:`reserve` (``booked``) and fold in ``used`` headers."""
        keys: List[str] = []
        args: List[Any] = [weight]
        names = set()
        for name, seconds, _limit in windows:
            names.add(name)
            index = int(reserved_at // seconds)
            landed = max(index, int((now + landing_guard(seconds)) // seconds))
            same = index == int(now // seconds) and reserved_at - index * seconds >= landing_guard(seconds)
            reported = used.get(name, -1) if used and same else -1
            keys.append(f"{self.prefix}:w:{name}:{index}")
            keys.append(f"{self.prefix}:w:{name}:{landed}")
            args.extend(("1" if booked else "0", reported, seconds * 2000 + 5000))
        for name, value in (used or {}).items():
            if name in names:
                continue
            try:
                seconds = window_seconds(name)
            except (KeyError, ValueError):
                continue
            index = int(now // seconds)
            if int(reserved_at // seconds) != index:
                continue
            key = f"{self.prefix}:w:{name}:{index}"
            keys.extend((key, key))
            args.extend(("0", value, seconds * 2000 + 5000))
        if not keys:
            return 0
        result = self.link.run(COMPLETE, keys, args)
        return None if result is None else 0

    def read(self, now: float, names: Sequence[Tuple[str, int, bool]]) -> Optional[Dict[str, int]]:
        """``{"1M": used}`` for ``names`` ((name, seconds, limited) each): the fleet's estimate
        ``max(r, u + f)`` for a limited window, the highest reported value otherwise."""
        keys: List[str] = []
        for name, seconds, _limited in names:
            index = int(now // seconds)
            keys.append(f"{self.prefix}:w:{name}:{index}")
            keys.append(f"{self.prefix}:w:{name}:{index - 1}")
        result = self.link.run(READ, keys, [])
        if result is None:
            return None
        out: Dict[str, int] = {}
        for i, (name, _seconds, limited) in enumerate(names):
            r, f, u = int(result[4 * i]), int(result[4 * i + 1]), int(result[4 * i + 2])
            out[name] = max(r, u + f) if limited else u
        return out

    def trip(self, ttl_ms: int, kind: str, message: str, binance_code: Optional[int],
             http_status: Optional[int]) -> Optional[int]:
        """Close the fleet's gate for ``ttl_ms`` (or longer if it already is); its remaining ms."""
        args = [max(1, int(ttl_ms)), kind, message, "" if binance_code is None else binance_code,
                "" if http_status is None else http_status]
        result = self.link.run(TRIP, [self.ban_key], args)
        return None if result is None else int(result)

    def gate(self) -> Optional[List[Any]]:
        """``[0]`` when open, else ``[1, ttl_ms, kind, message, code, status]``; None: Redis down."""
        result = self.link.run(GATE, [self.ban_key], [])
        return None if result is None else list(result)

    def clear(self) -> Optional[int]:
        """Open the fleet's gate at once; None when Redis could not be told."""
        result = self.link.run(CLEAR, [self.ban_key], [])
        return None if result is None else int(result)

    @staticmethod
    def ban_fields(answer: Sequence[Any]) -> Tuple[float, str, str, Optional[int], Optional[int]]:
        """(remaining seconds, kind, message, binance code, http status) of a banned answer."""
        return (int(answer[1]) / 1000.0, _text(answer[2]) or "rate_limited", _text(answer[3]),
                _int_or_none(answer[4]), _int_or_none(answer[5]))


class SharedConnectionBudget(ConnectionBudget):
    """:class:`ConnectionBudget` with its attempt log in Redis (any number of processes).

    ``now`` arguments are ignored while Redis answers (its ``TIME`` orders the fleet's attempts);
    while Redis is down this process's own log (the base class) decides.  Thread-safe for the
    base class's callers (they hold a lock); each call blocks at most the link's timeout.
    """

    __slots__ = ("link", "key", "_member")

    def __init__(self, link: RedisLink, key: str, limit: int = 300, window: float = 300.0) -> None:
        super().__init__(limit, window)
        self.link = link
        self.key = key
        self._member = f"{os.getpid()}-{os.urandom(4).hex()}-"

    def _ask(self, record: bool, now: float) -> Optional[List[Any]]:
        member = self._member + str(next(_SEQ))
        result = self.link.run(CONNECT, [self.key], [self.limit, int(self.window * 1000), member,
                                                     "1" if record else "0"])
        if result is None:
            return None
        answer = list(result)
        self._seed(int(answer[1]), now)
        return answer

    def _seed(self, fleet_used: int, now: float) -> None:
        """Keep the local log at least as full as the fleet's, so a fallback (Redis down) starts
        from the fleet's count, not from zero (N processes must not get N budgets). The padding is
        stamped ``now``: it expires a little later than the real attempts (the safe side)."""
        super()._prune(now)
        attempts = self._attempts
        for _ in range(min(fleet_used, self.limit) - len(attempts)):
            attempts.append(now)

    def try_acquire(self, now: float) -> float:
        """Record an attempt if the fleet's budget allows (0.0), else the seconds to wait."""
        answer = self._ask(True, now)
        if answer is None:
            return super().try_acquire(now)
        return int(answer[0]) / 1000.0

    def delay(self, now: float) -> float:
        answer = self._ask(False, now)
        if answer is None:
            return super().delay(now)
        return int(answer[0]) / 1000.0

    def used(self, now: float) -> int:
        """Attempts of the whole fleet in the current window (this process's while Redis is down)."""
        answer = self._ask(False, now)
        if answer is None:
            return super().used(now)
        return int(answer[1])


_SEQ = itertools.count(1)


class LockedOrderCounter(OrderCounter):
    """:class:`OrderCounter` callable from any thread (its own short lock): the REST client's
    threads never wait on each other's Redis round trips for it."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def observe(self, counts: Mapping[str, int], now: float) -> None:
        with self._lock:
            super().observe(counts, now)

    def snapshot(self, now: float) -> Dict[str, int]:
        with self._lock:
            return super().snapshot(now)


class SharedOrderCounter(LockedOrderCounter):
    """:class:`OrderCounter` whose latest counts live in Redis, per account (newest response wins).

    Every :meth:`observe` also updates the local copy (the base class) that answers while Redis
    is down.  Each call blocks at most the link's timeout, holding no lock meanwhile.
    """

    __slots__ = ("link", "key")

    def __init__(self, link: RedisLink, key: str) -> None:
        super().__init__()
        self.link = link
        self.key = key

    def observe(self, counts: Mapping[str, int], now: float) -> None:
        super().observe(counts, now)
        args: List[Any] = [2 * 86400 * 1000]
        for name, value in counts.items():
            try:
                seconds = window_seconds(name)
            except (KeyError, ValueError):
                continue
            args.extend((name, int(now // seconds), int(now * 1000), int(value)))
        if len(args) > 1:
            self.link.run(ORDERS, [self.key], args)

    def snapshot(self, now: float) -> Dict[str, int]:
        result = self.link.run(ORDERS_READ, [self.key], [])
        if result is None:
            return super().snapshot(now)
        out: Dict[str, int] = {}
        items = list(result)
        for i in range(0, len(items) - 1, 2):
            name, value = _text(items[i]), _text(items[i + 1]).split(":")
            try:
                index, count = int(value[0]), int(value[2])
                current = int(now // window_seconds(name))
            except (IndexError, KeyError, ValueError):
                continue
            out[name] = count if index == current else 0
        return out


def _link(config: Any) -> RedisLink:
    return link_for(config.rate_limit.shared_redis_url, op_timeout(config.rate_limit.max_wait))


def _rest_host(config: Any) -> str:
    parts = urlsplit(config.exchange.rest_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def connection_budget(config: Any, current: Optional[ConnectionBudget] = None) -> ConnectionBudget:
    """The connection-attempt budget for ``config``: ``current`` when it still fits (Binance counts
    attempts per IP: a restart does not reset what was spent), else a new one, shared through Redis
    under ``with_shared_limits``."""
    ws = config.websocket
    url = config.rate_limit.shared_redis_url
    key = f"{key_prefix(shared_key(config), _rest_host(config))}:connections" if url else None
    if current is not None and (current.limit, current.window) == (ws.connection_budget,
                                                                   float(ws.connection_budget_window)):
        shared = isinstance(current, SharedConnectionBudget)
        if (not shared and key is None) or (
            isinstance(current, SharedConnectionBudget) and current.key == key and current.link is _link(config)
        ):
            return current
    if key is None:
        return ConnectionBudget(ws.connection_budget, ws.connection_budget_window)
    return SharedConnectionBudget(_link(config), key, ws.connection_budget, ws.connection_budget_window)


def order_counter(config: Any) -> OrderCounter:
    """Where a REST client keeps its order counts: in Redis, per account, under
    ``with_shared_limits``; else in the process."""
    url = config.rate_limit.shared_redis_url
    if not url:
        return LockedOrderCounter()
    api_key = getattr(config.auth, "api_key", None) or ""
    account = hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16] if api_key else "anonymous"
    return SharedOrderCounter(_link(config), f"{key_prefix(shared_key(config), _rest_host(config))}:orders:{account}")

