"""Continuity rules (_core/continuity.py) and REST rows -> backfilled events (_core/history.py)."""

from __future__ import annotations

import calendar
import datetime
from decimal import Decimal

import pytest

from binance_conn._core import continuity as c
from binance_conn._core import history as h


def _ms(*args: int) -> int:
    return calendar.timegm(datetime.datetime(*args).timetuple()) * 1000  # type: ignore[arg-type]


# ------------------------------------------------------------------ ids (trade t, aggTrade a)
def test_id_first_value_sets_baseline_then_in_order() -> None:
    t = c.IdTracker()
    assert t.check(100) == c.IN_ORDER
    assert t.check(101) == c.IN_ORDER
    assert t.last == 101


@pytest.mark.parametrize("value", [101, 100, 5])
def test_id_duplicate_or_older_is_dropped_and_keeps_last(value: int) -> None:
    t = c.IdTracker(101)
    assert t.check(value) == c.DUPLICATE
    assert t.last == 101


def test_id_gap_reports_the_exact_inclusive_range() -> None:
    t = c.IdTracker(10)
    assert t.check(15) == c.GAP
    assert (t.gap_first, t.gap_last) == (11, 14)
    assert t.last == 15
    assert t.check(16) == c.IN_ORDER


def test_id_gap_of_one() -> None:
    t = c.IdTracker(10)
    assert t.check(12) == c.GAP
    assert (t.gap_first, t.gap_last) == (11, 11)


def test_id_advance_never_moves_back() -> None:
    t = c.IdTracker(10)
    t.advance(7)
    assert t.last == 10
    t.advance(12)
    assert t.last == 12


# ------------------------------------------------------------------ klines
@pytest.mark.parametrize("interval,ms", [("1s", 1000), ("1m", 60_000), ("3m", 180_000), ("2h", 7_200_000),
                                         ("1d", 86_400_000), ("3d", 3 * 86_400_000), ("1w", 7 * 86_400_000),
                                         ("1M", None)])
def test_interval_ms(interval: str, ms: object) -> None:
    assert c.interval_ms(interval) == ms


@pytest.mark.parametrize("tz,ms", [(None, 0), ("+08:00", 8 * 3_600_000), ("-01:30", -5_400_000),
                                   ("+05:45", (5 * 60 + 45) * 60_000), ("+0", 0), ("-3", -3 * 3_600_000)])
def test_offset_ms(tz: object, ms: int) -> None:
    assert c.offset_ms(tz) == ms  # type: ignore[arg-type]


def test_next_open_month_follows_calendar_in_utc() -> None:
    assert c.next_open_time(_ms(2024, 1, 1), "1M") == _ms(2024, 2, 1)
    assert c.next_open_time(_ms(2024, 2, 1), "1M") == _ms(2024, 3, 1)  # 29 days (leap year)
    assert c.next_open_time(_ms(2023, 2, 1), "1M") == _ms(2023, 3, 1)  # 28 days
    assert c.next_open_time(_ms(2024, 12, 1), "1M") == _ms(2025, 1, 1)  # year wrap


def test_next_open_month_with_timezone_offset() -> None:
    # @+08:00 monthly klines open at midnight UTC+8 on the 1st: 16:00 UTC on the last day before
    opened = _ms(2024, 1, 31, 16)  # 2024-02-01 00:00 +08:00
    assert c.next_open_time(opened, "1M", c.offset_ms("+08:00")) == _ms(2024, 2, 29, 16)
    west = _ms(2024, 3, 1, 1)  # 2024-03-01 00:00 -01:00
    assert c.next_open_time(west, "1M", c.offset_ms("-01:00")) == _ms(2024, 4, 1, 1)


def test_kline_tracker_in_order_dup_and_gap_1m() -> None:
    t = c.KlineTracker("1m")
    base = _ms(2024, 5, 1)
    assert t.check(base) == c.IN_ORDER
    assert t.check(base + 60_000) == c.IN_ORDER
    assert t.check(base + 60_000) == c.DUPLICATE
    assert t.check(base) == c.DUPLICATE
    assert t.check(base + 4 * 60_000) == c.GAP
    assert (t.gap_first, t.gap_last) == (base + 120_000, base + 180_000)
    assert t.check(base + 5 * 60_000) == c.IN_ORDER


def test_kline_tracker_month_gap_with_timezone() -> None:
    t = c.KlineTracker("1M", "+08:00")
    jan = _ms(2023, 12, 31, 16)
    apr = _ms(2024, 3, 31, 16)
    assert t.check(jan) == c.IN_ORDER
    assert t.check(apr) == c.GAP
    assert (t.gap_first, t.gap_last) == (_ms(2024, 1, 31, 16), _ms(2024, 2, 29, 16))
    assert t.previous_before(apr) == _ms(2024, 2, 29, 16)


def test_kline_tracker_week_is_fixed_length() -> None:
    t = c.KlineTracker("1w")
    monday = _ms(2024, 1, 1)
    assert t.check(monday) == c.IN_ORDER
    assert t.check(monday + 3 * 7 * 86_400_000) == c.GAP
    assert (t.gap_first, t.gap_last) == (monday + 7 * 86_400_000, monday + 14 * 86_400_000)


# ------------------------------------------------------------------ depth
def test_depth_spot_rule() -> None:
    t = c.DepthTracker()
    assert t.check(100, 110) == c.IN_ORDER
    assert t.check(111, 120) == c.IN_ORDER
    assert t.check(105, 120) == c.DUPLICATE  # u <= last u
    assert t.check(101, 115) == c.DUPLICATE
    assert t.check(118, 125) == c.IN_ORDER  # overlap U <= last+1 <= u continues
    assert t.check(130, 140) == c.GAP
    assert (t.gap_first, t.gap_last) == (126, 129)
    assert t.last == 140


def test_depth_futures_rule_uses_pu() -> None:
    t = c.DepthTracker(c.futures_depth_rule)
    assert t.check(100, 110, 99) == c.IN_ORDER
    assert t.check(115, 120, 110) == c.IN_ORDER  # pu == last u: continuous even though U jumps
    assert t.check(125, 130, 122) == c.GAP
    assert t.check(120, 120, 119) == c.DUPLICATE


# ------------------------------------------------------------------ history rows
def test_trade_from_rest_marks_backfilled_and_uses_trade_time() -> None:
    ev = h.trade_from_rest("binance", "BTCUSDT", {"id": 28457, "price": Decimal("4.00000100"), "qty": "12.0",
                                                    "quoteQty": "48.0", "time": 1499865549590,
                                                    "isBuyerMaker": True, "isBestMatch": True})
    assert (ev.trade_id, ev.price, ev.quantity, ev.trade_time, ev.event_time) == (
        28457, Decimal("4.00000100"), Decimal("12.0"), 1499865549590, 1499865549590)
    assert ev.is_buyer_maker is True and ev.is_backfilled is True


def test_agg_trade_from_rest() -> None:
    ev = h.agg_trade_from_rest("binance", "BTCUSDT", {"a": 26129, "p": "0.01633102", "q": "4.70443515",
                                                        "f": 27781, "l": 27781, "T": 1498793709153, "m": True,
                                                        "M": True})
    assert (ev.agg_trade_id, ev.first_trade_id, ev.last_trade_id, ev.event_time) == (26129, 27781, 27781,
                                                                                      1498793709153)
    assert ev.is_backfilled and ev.price == Decimal("0.01633102")


def test_kline_from_rest() -> None:
    row = [1499040000000, "0.01634790", "0.80000000", "0.01575800", "0.01577100", "148976.11427815",
           1499644799999, "2434.19055334", 308, "1756.87402397", "28.46694368", "0"]
    ev = h.kline_from_rest("binance", "BTCUSDT", "1m", "+08:00", row)
    assert ev.is_closed and ev.is_backfilled and ev.open_time == 1499040000000
    assert ev.close_time == ev.event_time == 1499644799999 and ev.trade_count == 308
    assert ev.timezone == "+08:00" and ev.close == Decimal("0.01577100")


def test_trim_keeps_range_sorted_without_repeats() -> None:
    rows = [{"id": i} for i in (7, 5, 6, 6, 9, 10, 4)]
    kept = h.trim(rows, lambda r: r["id"], 5, 9)
    assert [r["id"] for r in kept] == [5, 6, 7, 9]


@pytest.mark.parametrize("interval, step", [("1s", 1_000), ("1m", 60_000), ("1h", 3_600_000), ("1d", 86_400_000),
                                            ("1w", 604_800_000)])
def test_next_open_time_of_fixed_intervals_is_one_step(interval: str, step: int) -> None:
    opened = _ms(2024, 1, 1)
    assert c.next_open_time(opened, interval) == opened + step
    assert c.next_open_time(opened, interval, c.offset_ms("+08:00")) == opened + step
