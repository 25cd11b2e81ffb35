"""Immutable exponential backoff policy (sans-I/O).

The first attempt is immediate.  Retry ``n`` (0-based: the first retry is
``n = 0``) waits ``min(max, base * 2**n) * (1 - jitter * u)`` with ``u`` uniform in
[0, 1), so jitter only ever shortens a wait and the cap is never exceeded.
Randomness comes in as ``u`` so the policy is deterministic under test; the
I/O layers (tenacity in ``rest``/``_supervisor``) draw ``u`` and do the sleeping.
"""

from __future__ import annotations

__all__ = ["Backoff"]


class Backoff:
    """Exponential backoff with multiplicative jitter.

    Args:
        base: the first retry's nominal wait, seconds (> 0).
        max: cap on any wait, seconds (>= base).
        jitter: fraction in [0, 1] by which a wait may be shortened at random.
    """

    __slots__ = ("base", "max", "jitter")

    def __init__(self, base: float, max: float, jitter: float) -> None:  # noqa: A002 - the public name (with_backoff)
        self.base = float(base)
        self.max = float(max)
        self.jitter = float(jitter)

    def nominal(self, retry: int) -> float:
        """The wait before retry ``retry`` (0-based) without jitter."""
        if retry < 0:
            return 0.0
        # Very long outages: 2.0**retry overflows past ~1024; the cap applies long before.
        try:
            return min(self.max, self.base * (2.0**retry))
        except OverflowError:
            return self.max

    def delay(self, retry: int, u: float) -> float:
        """The wait before retry ``retry`` given a uniform draw ``u`` in [0, 1)."""
        return self.nominal(retry) * (1.0 - self.jitter * u)

    def __repr__(self) -> str:
        return f"Backoff(base={self.base}, max={self.max}, jitter={self.jitter})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Backoff):
            return NotImplemented
        return (self.base, self.max, self.jitter) == (other.base, other.max, other.jitter)

    def __hash__(self) -> int:
        return hash((self.base, self.max, self.jitter))
