"""REST throughput: binance_conn.RestClient vs a bare ``requests.Session``, same run, same calls.

Run: ``python benchmarks/rest_bench.py [--seconds 2] [--rounds 2]`` (``make bench``).

A keep-alive HTTP/1.1 responder written on raw asyncio streams runs in a child
process (its own interpreter, so it never competes for the client's GIL) with
TCP_NODELAY; it answers every request with a small fixed JSON body and Binance's
``X-MBX-USED-WEIGHT-1M`` header, and ``/api/v3/time`` with the current time.

Four workloads, each at 1 and 8 threads:

* unsigned: ``GET /api/v3/ticker/price?symbol=BTCUSDT``
* signed:   ``GET /api/v3/account?recvWindow=5000&timestamp=...&signature=<HMAC>``

The bare session does exactly those calls by hand (``session.get`` with the query,
HMAC computed per call, API-key header).  The client does them with everything
on: Decimal formatting and parsing, signing, clock offset, the shared weight
limiter (with a budget too large to bite), header parsing, error mapping,
in-flight tracking.  Printed: requests per second and the client/bare ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Tuple

__all__ = ["main"]

BODY = b'{"symbol":"BTCUSDT","price":"4.00000200","balances":[{"asset":"BTC","free":"1.00000000","locked":"0"}]}'
KEY = "benchkey"
SECRET = "benchsecret"


# ------------------------------------------------------------------------------ server (child process)

async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    used = 0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:].strip() or 0)
            if length:
                await reader.readexactly(length)
            used += 1
            if b" /api/v3/time" in head[:40]:
                body = b'{"serverTime":%d}' % int(time.time() * 1000)
            else:
                body = BODY
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
                b"Content-Length: %d\r\nX-MBX-USED-WEIGHT-1M: %d\r\nX-MBX-USED-WEIGHT: %d\r\n"
                b"Connection: keep-alive\r\n\r\n%s" % (len(body), used % 1000, used % 1000, body)
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port_file: str) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, backlog=256)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as fh:
        fh.write(str(port))
    os.replace(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


def _start_server() -> Tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    port_file = f"/tmp/rest_bench_port_{os.getpid()}"
    if os.path.exists(port_file):
        os.remove(port_file)
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", port_file])
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("benchmark server did not start")
        time.sleep(0.01)
    with open(port_file) as fh:
        port = int(fh.read())
    os.remove(port_file)
    return proc, f"http://127.0.0.1:{port}"


# ------------------------------------------------------------------------------ clients

def _bare(base: str, signed: bool) -> Callable[[], object]:
    import requests

    session = requests.Session()
    key = SECRET.encode()
    if signed:
        url = base + "/api/v3/account"

        def call() -> object:
            query = f"recvWindow=5000&timestamp={int(time.time() * 1000)}"
            sig = hmac.new(key, query.encode(), hashlib.sha256).hexdigest()
            r = session.get(f"{url}?{query}&signature={sig}", headers={"X-MBX-APIKEY": KEY}, timeout=(5, 10))
            r.raise_for_status()
            return r.json()
    else:
        url = base + "/api/v3/ticker/price"

        def call() -> object:
            r = session.get(url, params={"symbol": "BTCUSDT"}, timeout=(5, 10))
            r.raise_for_status()
            return r.json()

    return call


def _client(base: str, signed: bool) -> Callable[[], object]:
    from binance_conn._rest.limiter import WeightLimiterRegistry
    from binance_conn.config import Config
    from binance_conn.rest import RestClient

    cfg = (Config.builder().with_rest_url(base).with_api_key(KEY).with_api_secret(SECRET)
           .with_rate_limit(max_wait=1.0, weight_limit=10**9).build())
    client = RestClient(cfg, limiter_registry=WeightLimiterRegistry())
    if signed:
        client.sync_clock()
        return lambda: client.request("GET", "/api/v3/account", signed=True)
    return lambda: client.ticker_price("BTCUSDT")


def _run(call: Callable[[], object], threads: int, seconds: float) -> float:
    for _ in range(50):  # warm the pool and caches
        call()
    counts = [0] * threads
    stop = threading.Event()
    start = threading.Barrier(threads + 1)

    def worker(i: int) -> None:
        start.wait()
        n = 0
        while not stop.is_set():
            call()
            n += 1
        counts[i] = n

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def main(argv: List[str] = sys.argv[1:]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each is kept")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0
    proc, base = _start_server()
    results: Dict[Tuple[str, str, int], float] = {}
    try:
        for _ in range(args.rounds):
            for signed in (False, True):
                for threads in (1, 8):
                    kind = "signed" if signed else "unsigned"
                    for name, factory in (("bare", _bare), ("client", _client)):
                        rate = _run(factory(base, signed), threads, args.seconds)
                        key = (name, kind, threads)
                        results[key] = max(results.get(key, 0.0), rate)
    finally:
        proc.terminate()
        proc.wait(5)
    print(f"{'workload':<10} {'threads':>7} {'bare req/s':>11} {'client req/s':>13} {'ratio':>6}")
    out = []
    for kind in ("unsigned", "signed"):
        for threads in (1, 8):
            bare, client = results[("bare", kind, threads)], results[("client", kind, threads)]
            ratio = client / bare
            out.append({"workload": kind, "threads": threads, "bare": round(bare), "client": round(client),
                        "ratio": round(ratio, 2)})
            print(f"{kind:<10} {threads:>7} {bare:>11.0f} {client:>13.0f} {ratio:>5.2f}x")
    if os.environ.get("BENCH_JSON"):
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
