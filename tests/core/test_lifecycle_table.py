"""The lifecycle tables (_core/lifecycle.py): pure, no threads, sockets or sleeps."""

from __future__ import annotations

from typing import List, Tuple

import pytest

from binance_conn._core.lifecycle import (
    DRAIN_ACK,
    DRAIN_QUIET,
    LINK_TRANSITIONS,
    LIVENESS_TRANSITIONS,
    SET_TRANSITIONS,
    LifecycleError,
    LinkInput,
    LinkLife,
    LinkSet,
    LinkState,
    Liveness,
    LivenessInput,
    Rollover,
    SetInput,
    link_transition,
    set_transition,
)

L = LinkState
I = LinkInput  # noqa: E741
R = Rollover


class Monitor:
    """Records pause/resume calls (a HealthMonitor stand-in)."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, float]] = []
        self.paused = False

    def pause(self, now: float) -> None:
        self.calls.append(("pause", now))
        self.paused = True

    def resume(self, now: float) -> None:
        self.calls.append(("resume", now))
        self.paused = False


# ---------------------------------------------------------------------------------- one link


def test_link_happy_path_reconnect_and_zombie() -> None:
    life = LinkLife()
    assert life.state is L.IDLE and not life.is_open
    assert life.handle(I.START, 0.0) is L.CONNECTING
    assert life.handle(I.FAILED, 1.0, "refused") is L.CONNECTING
    assert life.handle(I.CONNECTED, 2.0) is L.SUBSCRIBING
    assert life.is_open and not life.is_ready and life.connects == 1
    assert life.handle(I.SUBSCRIBED, 3.0) is L.READY
    assert life.is_ready and life.has_been_ready and life.may_judge
    assert life.handle(I.PENDING, 4.0) is L.SUBSCRIBING  # a stream added: not ready, still open
    assert life.is_open and not life.is_ready
    life.handle(I.SUBSCRIBED, 5.0)
    assert life.handle(I.CONDEMN, 6.0, "zombie: no pong") is L.ZOMBIE
    # a condemned link is an outage: not open, not ready, no verdict taken on it again
    assert not life.is_open and not life.is_ready and life.is_condemned and not life.may_judge
    assert life.reason == "zombie: no pong" and life.since == 6.0
    assert life.handle(I.SUBSCRIBED, 6.5) is L.ZOMBIE  # late ack does not revive it
    assert life.handle(I.LOST, 7.0) is L.LOST
    assert life.handle(I.RETRY, 7.0) is L.CONNECTING
    assert life.handle(I.CONNECTED, 8.0) is L.SUBSCRIBING and life.connects == 2
    assert life.handle(I.CLOSE, 9.0) is L.RETIRED
    for inp in LinkInput:  # a retired link absorbs late reports
        assert life.handle(inp, 10.0) is L.RETIRED


@pytest.mark.parametrize(
    "state,inp",
    [(L.IDLE, I.CONNECTED), (L.IDLE, I.SUBSCRIBED), (L.CONNECTING, I.SUBSCRIBED), (L.CONNECTING, I.START),
     (L.READY, I.CONNECTED), (L.READY, I.RETRY), (L.LOST, I.SUBSCRIBED), (L.DRAINING, I.RETRY),
     (L.ZOMBIE, I.RETRY), (L.SUBSCRIBING, I.START)],
)
def test_illegal_link_transitions_raise(state: LinkState, inp: LinkInput) -> None:
    with pytest.raises(LifecycleError) as ei:
        link_transition(state, inp)
    assert ei.value.state is state and ei.value.input is inp
    life = LinkLife()
    life.state = state
    assert not life.can(inp)
    with pytest.raises(LifecycleError):
        life.handle(inp, 0.0)
    assert life.state is state


def test_close_from_everywhere_and_drain_only_from_live_states() -> None:
    for state in LinkState:
        assert link_transition(state, I.CLOSE) is L.RETIRED
    for state in (L.SUBSCRIBING, L.READY, L.ZOMBIE):
        assert link_transition(state, I.DRAIN) is L.DRAINING
    for state in (L.IDLE, L.CONNECTING, L.LOST):  # nothing in flight: retired at once
        assert link_transition(state, I.DRAIN) is L.RETIRED
    assert link_transition(L.DRAINING, I.LOST) is L.RETIRED
    assert all(isinstance(v, LinkState) for v in LINK_TRANSITIONS.values())


def test_liveness_is_paused_during_a_block_and_always_resumed() -> None:
    life = LinkLife()
    life.handle(I.START, 0.0)
    life.handle(I.CONNECTED, 0.0)
    life.handle(I.SUBSCRIBED, 0.0)
    mon = Monitor()
    life.block_started(10.0, mon)  # the supervisor sees the reader blocked since 10
    assert life.liveness is Liveness.PAUSED and mon.paused and not life.may_judge
    life.block_started(10.0, mon)  # seen again: paused once
    assert mon.calls == [("pause", 10.0)]
    life.block_ended(10.0, 12.0, mon)  # the reader is free again
    assert life.liveness is Liveness.TRACKING and not mon.paused and life.may_judge
    assert mon.calls[-1] == ("resume", 12.0)
    # a wait the supervisor never saw: paused from its start, resumed at its end
    life.block_ended(20.0, 21.0, mon)
    assert mon.calls[-2:] == [("pause", 20.0), ("resume", 21.0)] and not mon.paused
    for (before, inp), after in LIVENESS_TRANSITIONS.items():
        if inp is LivenessInput.UNBLOCK:
            assert after is Liveness.TRACKING, before


def test_reconnect_resets_liveness() -> None:
    life = LinkLife()
    life.handle(I.START, 0.0)
    life.handle(I.CONNECTED, 0.0)
    life.block_started(1.0, Monitor())
    life.handle(I.LOST, 2.0)
    life.handle(I.RETRY, 2.0)
    life.handle(I.CONNECTED, 3.0)
    assert life.liveness is Liveness.TRACKING and life.may_judge


# ---------------------------------------------------------------------------------- a set of links


def _rolling(**kw: object) -> LinkSet[str]:
    links: LinkSet[str] = LinkSet(**kw)  # type: ignore[arg-type]
    links.set_primary("old")
    assert links.begin("new", 100.0, "max lifetime")
    return links


def test_rollover_market_full_cycle() -> None:
    links = _rolling(drain_rule=DRAIN_QUIET, overlap=1.0, grace=3.0, quiet=0.25)
    assert links.state is R.OPENING and links.in_rollover and links.rollovers == 1
    assert not links.begin("newer", 100.0, "again")  # one rollover at a time
    assert links.is_deduping(100.0)
    assert not links.tick(100.5)  # not subscribed: nothing to do
    links.subscribed("new", 101.0)
    assert links.state is R.OVERLAP and links.is_deduping(101.0)
    step = links.tick(101.2)
    assert step.switched_to is None and step.wake_at == 102.0
    step = links.tick(102.0)  # overlap elapsed, no data (quiet streams)
    assert step.switched_to == "new" and step.drain == "old" and not step.close
    assert links.primary == "new" and links.draining == "old" and links.state is R.DRAINING
    assert links.is_deduping(102.0)
    links.data_seen("old", 102.1)  # the old link still delivers in-flight events
    step = links.tick(102.2)
    assert not step.close and step.wake_at == pytest.approx(102.35)
    step = links.tick(102.35)  # quiet for 0.25 s: drained
    assert step.close == ["old"] and links.draining is None and links.state is R.GRACE
    assert links.is_deduping(105.0) and step.wake_at == pytest.approx(105.35)
    assert links.tick(105.0).wake_at is not None
    links.tick(105.35)
    assert links.state is R.STEADY and not links.is_deduping(105.35)


def test_duplicate_filter_on_during_overlap_and_grace() -> None:
    """Seeded bug (a): the duplicate filter must be on for the whole overlap and a grace after."""
    links = _rolling(overlap=1.0, grace=3.0)
    assert not LinkSet().is_deduping(0.0)  # steady: off
    for t in (100.0, 100.5):
        assert links.is_deduping(t)
    links.subscribed("new", 101.0)
    assert links.is_deduping(101.5)
    links.data_seen("new", 101.5)
    links.tick(101.5)
    assert links.state is R.DRAINING and links.is_deduping(101.6)
    step = links.tick(103.0)  # overlap since the switch elapsed: drained
    assert step.close == ["old"]
    for t in (103.0, 104.0, 105.99):
        assert links.is_deduping(t), t
    links.tick(106.0)
    assert not links.is_deduping(106.0)
    # the old link dying mid-rollover: grace too
    links = _rolling(grace=3.0)
    links.lost("old", 100.5)
    assert links.state is R.GRACE and links.is_deduping(103.4) and not links.is_deduping(103.5)


def test_switch_only_after_the_overlap_wait() -> None:
    """Seeded bug (d): subscribed AND (data OR overlap elapsed), never the instant of the subscription."""
    links = _rolling(overlap=1.0)
    assert not links.switch_due(100.0)
    assert links.tick(150.0).switched_to is None  # not subscribed: no switch, however long
    links.subscribed("new", 151.0)
    assert not links.switch_due(151.0)
    assert links.tick(151.0).switched_to is None
    assert links.tick(151.9).switched_to is None
    links.data_seen("new", None)  # no data yet
    assert links.tick(151.95).switched_to is None
    links.data_seen("new", 151.96)
    assert links.switch_due(151.96)
    assert links.tick(151.96).switched_to == "new"
    with pytest.raises(LifecycleError):
        set_transition(R.OPENING, SetInput.SWITCH)
    with pytest.raises(LifecycleError):
        set_transition(R.STEADY, SetInput.SWITCH)


def test_old_link_is_drained_before_it_is_closed_ack() -> None:
    """Seeded bug (b), user data: unsubscribe sent AND answered before the old link closes."""
    links = _rolling(drain_rule=DRAIN_ACK, hold_replacement=True, overlap=1.0, drain_timeout=3.0)
    links.subscribed("new", 101.0)
    step = links.tick(102.0)
    assert step.drain == "old" and step.close == [] and links.draining == "old"
    assert not links.drain_due(102.0)
    assert links.tick(102.5).close == []  # not sent yet
    links.drain_answered_by("old", 102.6)  # an answer without a request: ignored
    assert not links.drain_due(102.6) and links.tick(102.6).close == []
    links.drain_sent("old", 103.0)
    assert not links.drain_due(104.0) and links.tick(104.0).close == []  # sent, not answered
    links.drain_answered_by("old", 104.5)
    assert links.drain_due(104.5)
    assert links.tick(104.5).close == ["old"]
    assert links.state is R.GRACE


def test_ack_drain_falls_back_after_timeout() -> None:
    links = _rolling(drain_rule=DRAIN_ACK, drain_timeout=3.0)
    links.subscribed("new", 101.0)
    links.tick(102.0)
    links.drain_sent("old", 102.0)
    step = links.tick(104.9)
    assert step.close == [] and step.wake_at == 105.0
    assert links.tick(105.0).close == ["old"]


def test_drain_step_cannot_be_skipped() -> None:
    """Seeded bug (b): no path closes the old link without going through DRAINING."""
    for (state, inp), after in SET_TRANSITIONS.items():
        if after is R.GRACE and state in (R.OPENING, R.OVERLAP):
            assert inp in (SetInput.OLD_LOST, SetInput.NEW_LOST), (state, inp)
    assert SET_TRANSITIONS[(R.OVERLAP, SetInput.SWITCH)] is R.DRAINING
    assert (R.OVERLAP, SetInput.DRAINED) not in SET_TRANSITIONS
    assert (R.OPENING, SetInput.DRAINED) not in SET_TRANSITIONS
    # market rule: the old link is not closed at the switch, even when it is already quiet
    links = _rolling(drain_rule=DRAIN_QUIET, quiet=0.25, overlap=1.0)
    links.subscribed("new", 101.0)
    links.data_seen("new", 101.0)
    step = links.tick(101.0)
    assert step.switched_to == "new" and step.close == [] and step.drain == "old"
    links.data_seen("old", 101.2)
    links.data_seen("old", 101.4)
    assert links.tick(101.5).close == []  # still delivering
    links.data_seen("old", 101.9)
    assert links.tick(101.99).close == []
    assert links.tick(102.0).close == ["old"]  # overlap since the switch elapsed: closed anyway


def test_replacement_holds_events_until_switch_then_releases_in_order() -> None:
    """Seeded bug (e): the new link's events are held back until the switch (user data)."""
    links = _rolling(drain_rule=DRAIN_ACK, hold_replacement=True, overlap=1.0)
    assert links.is_holding
    assert not links.hold("old", "o1")  # the old link delivers directly
    assert links.hold("new", 1) and links.hold("new", 2)
    links.subscribed("new", 101.0)
    assert links.is_holding and links.hold("new", 3)
    assert links.held == 3
    assert links.tick(101.5).released == []
    step = links.tick(102.0)
    assert step.switched_to == "new" and step.released == [1, 2, 3]
    assert links.held == 0 and not links.is_holding
    assert not links.hold("new", 4)  # after the switch: delivered directly


def test_hold_released_when_old_link_dies_and_dropped_when_new_dies() -> None:
    links = _rolling(drain_rule=DRAIN_ACK, hold_replacement=True)
    links.hold("new", "a")
    links.hold("new", "b")
    step = links.lost("old", 100.5)
    assert step.switched_to == "new" and step.released == ["a", "b"] and links.primary == "new"
    links = _rolling(drain_rule=DRAIN_ACK, hold_replacement=True)
    links.hold("new", "a")
    step = links.lost("new", 100.5)
    assert step.released == [] and step.close == ["new"] and links.primary == "old"
    assert links.replacement is None and links.state is R.GRACE


def test_market_does_not_hold() -> None:
    links = _rolling(drain_rule=DRAIN_QUIET, hold_replacement=False)
    assert not links.is_holding and not links.hold("new", 1)


def test_draining_link_lost_and_primary_lost_while_draining() -> None:
    links = _rolling()
    links.subscribed("new", 101.0)
    links.tick(102.0)
    assert links.lost("new", 102.1).close == []  # the new primary reconnects by itself
    assert links.state is R.DRAINING
    links.lost("old", 102.2)
    assert links.state is R.GRACE and links.draining is None


def test_begin_again_during_grace_and_reset() -> None:
    links = _rolling()
    links.lost("old", 100.1)
    assert links.state is R.GRACE
    assert links.begin("third", 100.2, "server shutdown")
    assert links.state is R.OPENING and links.replacement == "third"
    links.reset()
    assert links.state is R.STEADY and links.links() == []


def test_wake_never_in_the_past_for_a_waiting_rollover() -> None:
    """A replacement that never connects leaves nothing due: tick asks for no early wake-up."""
    links = _rolling()
    for t in (100.0, 200.0, 300.0):
        assert links.tick(t).wake_at is None


def test_unknown_drain_rule() -> None:
    with pytest.raises(ValueError):
        LinkSet(drain_rule="whatever")


def test_tables_are_closed() -> None:
    assert all(isinstance(v, Rollover) for v in SET_TRANSITIONS.values())
    for state in Rollover:
        assert set_transition(state, SetInput.RESET) is R.STEADY
    assert str(R.OVERLAP) == "overlap" and str(SetInput.SWITCH) == "switch" and str(L.READY) == "ready"
    assert "illegal rollover transition" in str(LifecycleError("rollover", R.STEADY, SetInput.SWITCH))
