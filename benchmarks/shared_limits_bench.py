"""Cost of with_shared_limits: the Redis-backed limiter vs the process-local one, same run.

Run: ``python benchmarks/shared_limits_bench.py [--seconds 2] [--rounds 2]`` (``make bench``).
Needs ``redis-server`` on the PATH (``bash .ci/ensure-redis``) or ``--redis redis://...``.

Two measurements, each for the local limiter (``HostLimiter``) and the shared one
(``SharedHostLimiter`` on a private redis-server on loopback, no persistence):

* limiter only: ``acquire`` + ``complete`` with a used-weight header, as a REST call
  does around its HTTP exchange; microseconds per call, 1 and 8 threads.  This is the
  whole per-call overhead of sharing: two Lua scripts, one round trip each.
* end to end: a signed ``GET /api/v3/account`` through ``RestClient`` against the
  keep-alive responder of ``rest_bench.py`` (its own process); requests per second.

The best of ``--rounds`` alternating rounds is kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from rest_bench import KEY, SECRET, _run, _start_server  # noqa: E402 - the same responder as the REST benchmark

__all__ = ["main"]


def _start_redis() -> Tuple[subprocess.Popen, str, str]:  # type: ignore[type-arg]
    binary = os.environ.get("BINANCE_CONN_REDIS_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(binary, os.X_OK):
        raise SystemExit("redis-server not found: bash .ci/ensure-redis (or --redis redis://host:port/0)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="bc-bench-redis-")
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", workdir, "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    return proc, f"redis://127.0.0.1:{port}/0", workdir
        except OSError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit("redis-server did not start")


def _limiters(redis_url: str) -> Dict[str, object]:
    from binance_conn._redis.limits import SharedWindows, key_prefix
    from binance_conn._redis.link import RedisLink, op_timeout
    from binance_conn._rest.limiter import HostLimiter
    from binance_conn._rest.shared import SharedHostLimiter

    host = "https://api.binance.com"
    limits = {"1M": 10**9}
    key = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    shared = SharedHostLimiter(host, limits, SharedWindows(RedisLink(redis_url, op_timeout(1.0)),
                                                           key_prefix(key, host)), key)
    return {"local": HostLimiter(host, limits), "shared": shared}


def _limiter_call(limiter: object) -> Callable[[], None]:
    acquire = limiter.acquire  # type: ignore[attr-defined]
    complete = limiter.complete  # type: ignore[attr-defined]
    gate = limiter.gate_error  # type: ignore[attr-defined]
    now = time.time
    never = threading.Event().wait
    used = {"1M": 100}

    def call() -> None:
        gate(now())
        at = acquire(20, max_wait=1.0, now=now, wait=never)
        complete(20, at, now(), used)

    return call


def _client_call(base: str, redis_url: Optional[str]) -> Callable[[], object]:
    from binance_conn._rest.limiter import WeightLimiterRegistry
    from binance_conn.config import Config
    from binance_conn.rest import RestClient

    builder = (Config.builder().with_rest_url(base).with_api_key(KEY).with_api_secret(SECRET)
               .with_rate_limit(max_wait=1.0, weight_limit=10**9))
    if redis_url:
        builder = builder.with_shared_limits(redis_url, key=f"bench-{os.getpid()}-{time.monotonic_ns()}")
    client = RestClient(builder.build(), limiter_registry=WeightLimiterRegistry())
    client.sync_clock()
    return lambda: client.request("GET", "/api/v3/account", signed=True)




def main(argv: List[str] = sys.argv[1:]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--redis", help="use this Redis instead of starting a private redis-server")
    args = parser.parse_args(argv)
    redis_proc, workdir = None, None
    if args.redis:
        redis_url = args.redis
    else:
        redis_proc, redis_url, workdir = _start_redis()
    server, base = _start_server()
    limiter_rate: Dict[Tuple[str, int], float] = {}
    client_rate: Dict[Tuple[str, int], float] = {}
    try:
        for _ in range(args.rounds):
            for threads in (1, 8):
                for name, limiter in _limiters(redis_url).items():
                    rate = _run(_limiter_call(limiter), threads, args.seconds)
                    limiter_rate[(name, threads)] = max(limiter_rate.get((name, threads), 0.0), rate)
                for name, url in (("local", None), ("shared", redis_url)):
                    rate = _run(_client_call(base, url), threads, args.seconds)
                    client_rate[(name, threads)] = max(client_rate.get((name, threads), 0.0), rate)
    finally:
        server.terminate()
        server.wait(5)
        if redis_proc is not None:
            redis_proc.kill()
            redis_proc.wait(5)
            shutil.rmtree(workdir or "", ignore_errors=True)
    print("limiter only (gate_error + acquire + complete, weight 20, a used-weight header):")
    print(f"{'threads':>7} {'local us/call':>14} {'shared us/call':>15} {'extra us':>9}")
    for threads in (1, 8):
        local, shared = 1e6 / limiter_rate[("local", threads)], 1e6 / limiter_rate[("shared", threads)]
        print(f"{threads:>7} {local:>14.1f} {shared:>15.1f} {shared - local:>9.1f}")
    print("end to end (signed GET /api/v3/account through RestClient, loopback responder):")
    print(f"{'threads':>7} {'local req/s':>12} {'shared req/s':>13} {'ratio':>6}")
    for threads in (1, 8):
        local, shared = client_rate[("local", threads)], client_rate[("shared", threads)]
        print(f"{threads:>7} {local:>12.0f} {shared:>13.0f} {shared / local:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
