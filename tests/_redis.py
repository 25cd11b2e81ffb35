"""A real Redis server on loopback for the tests (``make test`` installs ``redis-server``).

The tests that need Redis fail, never skip, when the server binary is missing: the
shared limits and the hub are only proven against the real thing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from typing import List, Optional

__all__ = ["RedisServer", "redis_binary"]


def redis_binary() -> str:
    """Path of ``redis-server``; fails (AssertionError) with the fix when it is missing."""
    path = os.environ.get("BINANCE_CONN_REDIS_SERVER") or shutil.which("redis-server")
    if not path:
        for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server", "/usr/sbin/redis-server"):
            if os.access(candidate, os.X_OK):
                path = candidate
                break
    assert path, ("redis-server not found: `make test` installs it (bash .ci/ensure-redis: the Debian "
                  "package redis-server); or set BINANCE_CONN_REDIS_SERVER to its path")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One private ``redis-server`` on 127.0.0.1 (no persistence), restartable on the same port.

    ``kill()`` sends SIGKILL (a crash, not a clean shutdown); ``start()`` brings it back on the
    same port, empty.
    """

    def __init__(self, port: Optional[int] = None) -> None:
        self.binary = redis_binary()
        self.port = port or _free_port()
        self.dir = tempfile.mkdtemp(prefix="bc-redis-")
        self.proc: Optional["subprocess.Popen[bytes]"] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        args: List[str] = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", self.dir, "--protected-mode", "no",
                           "--loglevel", "warning"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited with {self.proc.returncode} (port {self.port})")
            if self.ping():
                return self
            time.sleep(0.02)
        raise AssertionError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
