"""Test-only gunicorn config: the example's settings, plus a connector already RUNNING in the
master before it forks (``--preload``; the issue's original report). Not a recommended pattern:
it checks that a forked worker's copy is STOPPED, drops the inherited sockets without touching
the master's connection, and comes up with its subscriptions and callbacks in post_fork."""

import os
import runpy

_example = runpy.run_path(os.environ["EXAMPLE_GUNICORN_CONF"])
globals().update({k: v for k, v in _example.items() if not k.startswith("__")})


def when_ready(server):  # type: ignore[no-untyped-def]
    """In the master, after the (preloaded) app import, before the workers are forked."""
    import feed

    conn = feed.start()
    server.log.info("master %s: connector started in the master, ready=%s", os.getpid(), conn.wait_ready(10))
