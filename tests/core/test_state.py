from __future__ import annotations

import pytest

from binance_conn._core.state import TRANSITIONS, Input, InvalidTransition, StateMachine, transition
from binance_conn.enums import ConnectionState as S


def test_happy_path_and_reconnect() -> None:
    m = StateMachine()
    assert m.state is S.STOPPED
    assert m.handle(Input.START) is S.CONNECTING
    assert m.handle(Input.FAILED) is S.CONNECTING
    assert m.handle(Input.CONNECTED) is S.CONNECTED
    assert m.has_connected and m.is_connected
    assert m.handle(Input.ROLLOVER) is S.CONNECTED
    assert m.handle(Input.LOST) is S.DISCONNECTED
    assert m.handle(Input.RETRY) is S.RECONNECTING
    assert m.handle(Input.FAILED) is S.RECONNECTING
    assert m.handle(Input.CONNECTED) is S.CONNECTED
    assert m.handle(Input.STOP) is S.STOPPED
    assert not m.has_connected
    assert m.handle(Input.STOP) is S.STOPPED  # idempotent
    assert m.handle(Input.START) is S.CONNECTING  # restartable


@pytest.mark.parametrize(
    "state,inp",
    [(S.STOPPED, Input.CONNECTED), (S.STOPPED, Input.LOST), (S.CONNECTED, Input.START),
     (S.CONNECTED, Input.CONNECTED), (S.DISCONNECTED, Input.START), (S.RECONNECTING, Input.START),
     (S.CONNECTING, Input.START)],
)
def test_illegal_transitions_raise(state: S, inp: Input) -> None:
    with pytest.raises(InvalidTransition) as ei:
        transition(state, inp)
    assert ei.value.state is state and ei.value.input is inp
    m = StateMachine(state)
    assert not m.can(inp)
    with pytest.raises(InvalidTransition):
        m.handle(inp)
    assert m.state is state  # unchanged


def test_stop_from_everywhere() -> None:
    for state in S:
        assert transition(state, Input.STOP) is S.STOPPED


def test_table_targets_are_states() -> None:
    assert all(isinstance(v, S) for v in TRANSITIONS.values())
    assert str(Input.START) == "start"
