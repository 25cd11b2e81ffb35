"""Signature scrubbing for exceptions that carry a signed URL (moved out of ``client.py``)."""

from __future__ import annotations

import re

import requests

__all__ = ["scrubbed"]

_SIGNATURE = re.compile(r"signature=[^&\s'\")]*")


def scrubbed(exc: BaseException) -> BaseException:
    """A copy of a requests exception without the signature its URL text may carry.

    urllib3's ``MaxRetryError`` (and ``responses``) put the full URL, query string
    included, into the message, and the exception keeps the prepared request.  The
    copy keeps the type and the scrubbed text; the original (and its request) is
    dropped so ``str(err)``, tracebacks and logs never show a signature.
    """
    text = _SIGNATURE.sub("signature=***", str(exc))
    try:
        clean = type(exc)(text)
    except Exception:  # noqa: BLE001 - an exception type with an unusual constructor
        clean = requests.exceptions.RequestException(text)
    clean.__cause__ = None
    clean.__suppress_context__ = True
    return clean
