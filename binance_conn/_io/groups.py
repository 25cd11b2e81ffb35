"""A handle over several subscriptions (one per stream of a multi-symbol ``on_*`` call)."""

from __future__ import annotations

from typing import List

from .dispatch import Subscription

__all__ = ["SubscriptionGroup"]


class SubscriptionGroup:
    """Handle for a subscription to several symbols: one :class:`Subscription` per stream.

    Callable (unsubscribes all, idempotent); counters are sums over its members.
    """

    def __init__(self, members: List[Subscription]) -> None:
        self.members = tuple(members)

    def __call__(self) -> None:
        for sub in self.members:
            sub()

    @property
    def active(self) -> bool:
        return any(s.active for s in self.members)

    @property
    def delivered(self) -> int:
        return sum(s.delivered for s in self.members)

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.members)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.members)

    @property
    def pending(self) -> int:
        return sum(s.pending for s in self.members)

    def __repr__(self) -> str:
        return f"SubscriptionGroup({[s.topic for s in self.members]})"
