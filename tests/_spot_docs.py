"""Where the official spot docs snapshot is, for the tests that read its Markdown.

The committed fixtures (``tests/fixtures/spot_docs/*.json``) hold what was extracted from
it; tests that compare against the Markdown itself look here, in order: the
``BINANCE_SPOT_DOCS`` variable, ``shared/binance-spot-api-docs`` beside the checkout (or
beside any parent directory, for worktrees), then ``/work/shared/binance-spot-api-docs``.
When none exists those tests skip, naming this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

__all__ = ["DOCS", "find_docs"]


def find_docs() -> Optional[Path]:
    """The snapshot's directory, or None."""
    env = os.environ.get("BINANCE_SPOT_DOCS")
    candidates = [Path(env)] if env else []
    candidates += [p / "shared" / "binance-spot-api-docs" for p in Path(__file__).resolve().parents]
    candidates.append(Path("/work/shared/binance-spot-api-docs"))
    for candidate in candidates:
        if (candidate / "rest-api.md").is_file():
            return candidate
    return None


_found = find_docs()
DOCS: Path = _found if _found is not None else Path("/work/shared/binance-spot-api-docs")
"""The snapshot (a path that does not exist when none was found: tests check ``DOCS.is_dir()``)."""
