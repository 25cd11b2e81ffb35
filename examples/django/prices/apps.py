"""Start one Connector per serving process, exactly once, from AppConfig.ready().

Where ready() runs, and why it is not "start a connector in ready()":

* ``manage.py runserver`` (with its autoreloader, the default) runs in TWO processes: the
  parent only watches files and restarts the child; the child (environment
  ``RUN_MAIN=true``) serves requests. Both call django.setup(), so ready() runs in both.
  Starting in both opens two connections, one of them in a process that never serves a
  request. So under runserver start only where ``RUN_MAIN == "true"`` (or with
  ``--noreload``, where the one process serves). When a file changes the child exits (the
  atexit hook stops its connector) and a new child starts its own.
* Other management commands (migrate, shell, test, check, ...) need no market data: not
  started. A command of yours that does calls ``feed.start()`` itself.
* A WSGI/ASGI server (gunicorn, uWSGI, daphne, ...) imports ``priceproject.wsgi``, which
  runs django.setup() in the process that serves: started there. gunicorn without
  ``--preload`` does this in each worker, after the fork: one connector per worker. With
  ``--preload`` the master would run ready() before forking: set ``BINANCE_AUTOSTART=0``
  and call ``prices.feed.start()`` in gunicorn's ``post_fork`` hook instead (see
  examples/flask_gunicorn/gunicorn.conf.py); the workers' copies restart cleanly.
* ready() can run more than once in one process (tests that reload the app registry,
  code calling ``apps.get_app_config("prices").ready()``): a module-level flag makes the
  second call a no-op.

At exit an atexit hook stops the connector (binance_conn also has one of its own, so a
forgotten stop never keeps the process alive; ours logs that it stopped).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from typing import List, Mapping, Optional, Tuple

from django.apps import AppConfig

log = logging.getLogger("prices")

_ready_lock = threading.Lock()
_ready_done = False  # per process: ready() starts at most once


def _management_command(argv: List[str]) -> Optional[str]:
    """The command when this process is ``manage.py <command>`` / ``django-admin <command>``
    / ``python -m django <command>``; None for a WSGI/ASGI server or a plain django.setup()."""
    if not argv:
        return None
    prog = os.path.basename(argv[0])
    if prog not in ("manage.py", "django-admin", "django-admin.py") and not argv[0].endswith(
            os.path.join("django", "__main__.py")):  # python -m django
        return None
    return next((a for a in argv[1:] if not a.startswith("-")), "help")


def should_start(argv: Optional[List[str]] = None, environ: Optional[Mapping[str, str]] = None) -> Tuple[bool, str]:
    """Whether this process should run the connector, and why (logged)."""
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if environ.get("BINANCE_AUTOSTART", "1") == "0":
        return False, "BINANCE_AUTOSTART=0 (start it yourself, e.g. in gunicorn's post_fork)"
    command = _management_command(argv)
    if command is None:
        return True, "serving process"
    if command != "runserver":
        return False, f"management command {command!r} needs no market data"
    if environ.get("RUN_MAIN") == "true":
        return True, "runserver, autoreloader child"
    if "--noreload" in argv:
        return True, "runserver --noreload"
    return False, "runserver's autoreloader parent: the child it spawns starts the connector"


class PricesConfig(AppConfig):
    name = "prices"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        global _ready_done
        with _ready_lock:
            if _ready_done:  # ready() again in this process: never a second connector
                log.info("pid %d: ready() called again; connector already handled", os.getpid())
                return
            _ready_done = True
        start, why = should_start()
        if not start:
            log.info("pid %d: connector not started here (%s)", os.getpid(), why)
            return
        from . import feed

        conn = feed.start()
        atexit.register(feed.stop)
        log.info("pid %d: connector started (%s): %s", os.getpid(), why, conn.state.value)
