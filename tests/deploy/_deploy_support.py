"""Helpers for the deployment tests: run the examples as a user would, against a FakeBinance."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

__all__ = ["EXAMPLES", "PY", "REPO", "example_env", "http_json"]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def example_env(fake: Any = None, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """The environment a user would set: our BINANCE_* only (none inherited), URLs of ``fake``.

    The package dir goes first on PYTHONPATH so the examples import this checkout's
    binance_conn even when started from the example's own directory.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BINANCE_", "GUNICORN_", "DJANGO_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
                                "https_proxy", "ALL_PROXY", "all_proxy", "RUN_MAIN"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    if fake is not None:
        env["BINANCE_REST_URL"] = fake.rest_url
        env["BINANCE_WS_URL"] = fake.ws_url
        env["BINANCE_WS_API_URL"] = fake.ws_api_url
    env.update(extra or {})
    return env


def http_json(url: str, timeout: float = 2.0) -> Tuple[int, Dict[str, Any]]:
    """GET ``url`` on a fresh connection; (status, parsed JSON body). Raises OSError if unreachable."""
    req = urllib.request.Request(url, headers={"Connection": "close"})
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read().decode())
    except urllib.error.HTTPError as err:
        body = err.read().decode()
        try:
            return err.code, json.loads(body)
        except ValueError:
            return err.code, {"body": body}


# Never through a proxy from the environment: every URL here is on 127.0.0.1.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PY = sys.executable
