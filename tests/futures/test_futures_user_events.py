"""Every futures user-data sample of binance-futures-reference.md 7.3, parsed field by field (sans-I/O)."""

from __future__ import annotations

from decimal import Decimal

import pytest

import binance_conn as bc
from binance_conn._core.futures_account import AccountBook, futures_order_from_rest, private_url
from binance_conn._core.futures_userevents import (
    futures_event_key,
    listen_key_expired_time,
    parse_account_config,
    parse_account_update,
    parse_algo_update,
    parse_margin_call,
    parse_order_trade_update,
    parse_trade_lite,
)

D = Decimal
OTU = {"e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650, "o": {
    "s": "BTCUSDT", "c": "TEST", "S": "SELL", "o": "TRAILING_STOP_MARKET", "f": "GTC", "q": "0.001", "p": "0",
    "ap": "0", "sp": "7103.04", "x": "NEW", "X": "NEW", "i": 8886774, "l": "0", "z": "0", "L": "0", "N": "USDT",
    "n": "0", "T": 1568879465650, "t": 0, "b": "0", "a": "9.91", "m": False, "R": False, "wt": "CONTRACT_PRICE",
    "ot": "TRAILING_STOP_MARKET", "ps": "LONG", "cp": False, "AP": "7476.89", "cr": "5.0", "pP": False, "si": 0,
    "ss": 0, "rp": "0", "V": "EXPIRE_TAKER", "pm": "OPPONENT", "gtd": 0, "er": "0"}}


def test_order_trade_update_every_field() -> None:
    u = parse_order_trade_update(OTU, "binance-usdm")
    assert isinstance(u, bc.OrderUpdate)
    assert (u.exchange, u.symbol, u.client_order_id, u.side, u.order_type, u.time_in_force) == (
        "binance-usdm", "BTCUSDT", "TEST", "SELL", "TRAILING_STOP_MARKET", "GTC")
    assert (u.quantity, u.price, u.average_price, u.stop_price) == (D("0.001"), D("0"), D("0"), D("7103.04"))
    assert (u.execution_type, u.status, u.order_id) == ("NEW", "NEW", 8886774)
    assert (u.last_fill_quantity, u.filled_quantity, u.last_fill_price) == (D(0), D(0), D(0))
    assert (u.commission_asset, u.commission, u.transaction_time, u.trade_id) == ("USDT", D(0), 1568879465650, None)
    assert (u.bids_notional, u.asks_notional, u.is_maker, u.reduce_only) == (D(0), D("9.91"), False, False)
    assert (u.working_type, u.original_order_type, u.position_side, u.close_position) == (
        "CONTRACT_PRICE", "TRAILING_STOP_MARKET", "LONG", False)
    assert (u.activation_price, u.callback_rate, u.price_protect) == (D("7476.89"), D("5.0"), False)
    assert (u.strategy_id, u.strategy_type, u.realized_pnl) == (0, 0, D(0))
    assert (u.self_trade_prevention_mode, u.price_match, u.good_till_date, u.expiry_reason) == (
        "EXPIRE_TAKER", "OPPONENT", 0, "0")
    assert (u.event_time, u.is_reconciled, u.fills, u.modify_id, u.margin_asset, u.account_alias) == (
        1568879465651, False, (), None, None, None)


def test_order_trade_update_trade_carries_a_fill_and_coinm_fields() -> None:
    ev = {**OTU, "i": "SfsR", "o": {**OTU["o"], "x": "TRADE", "X": "PARTIALLY_FILLED", "t": 42, "l": "0.0005",
                                     "L": "7000", "z": "0.0005", "n": "0.01", "m": True, "rp": "1.5", "ma": "BTC",
                                     "M": 3}}
    u = parse_order_trade_update(ev, "x")
    assert u.fills == (bc.Fill(42, D("7000"), D("0.0005"), D("0.01"), "USDT", 1568879465650, True),)
    assert (u.realized_pnl, u.margin_asset, u.account_alias, u.modify_id) == (D("1.5"), "BTC", "SfsR", 3)


def test_trade_lite() -> None:
    ev = {"e": "TRADE_LITE", "E": 1721895408092, "T": 1721895408214, "s": "BTCUSDT", "q": "0.001", "p": "0",
          "m": False, "c": "z8hcUoOsqEdKMeKPSABslD", "S": "BUY", "L": "64089.20", "l": "0.040", "t": 109100866,
          "i": 8886774}
    t = parse_trade_lite(ev, "x")
    assert t == bc.TradeLite("x", "BTCUSDT", 8886774, "z8hcUoOsqEdKMeKPSABslD", "BUY", D(0), D("0.001"),
                             D("64089.20"), D("0.040"), 109100866, False, 1721895408214, 1721895408092)


def test_account_update_balances_and_positions() -> None:
    ev = {"e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938, "a": {"m": "ORDER",
          "B": [{"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678", "bc": "50.12345678"}],
          "P": [{"s": "BTCUSDT", "pa": "20", "ep": "6563.66500", "bep": "6563.6", "cr": "0", "up": "2850.21200",
                 "mt": "isolated", "iw": "13200.70726908", "ps": "LONG"}]}}
    [b], [p] = parse_account_update(ev, "x")
    assert (b.asset, b.wallet_balance, b.cross_wallet_balance, b.delta, b.reason, b.kind, b.event_time,
            b.update_time, b.free, b.locked) == ("USDT", D("122624.12345678"), D("100.12345678"), D("50.12345678"),
                                                 "ORDER", "ACCOUNT_UPDATE", 1564745798939, 1564745798938, None, None)
    assert p == bc.PositionUpdate("x", "BTCUSDT", "LONG", D(20), D("6563.66500"), D("2850.21200"), 1564745798939,
                                  breakeven_price=D("6563.6"), accumulated_realized=D(0), margin_type="ISOLATED",
                                  isolated_wallet=D("13200.70726908"), reason="ORDER", transaction_time=1564745798938)


def test_margin_call() -> None:
    ev = {"e": "MARGIN_CALL", "E": 1587727187525, "cw": "3.16812045", "p": [
        {"s": "ETHUSDT", "ps": "LONG", "pa": "1.327", "mt": "CROSSED", "iw": "0", "mp": "187.17127",
         "up": "-1.166074", "mm": "1.614445"}]}
    m = parse_margin_call(ev, "x")
    assert (m.event_time, m.cross_wallet_balance) == (1587727187525, D("3.16812045"))
    assert m.positions == (bc.MarginCallPosition("ETHUSDT", "LONG", D("1.327"), "CROSSED", D(0), D("187.17127"),
                                                 D("-1.166074"), D("1.614445")),)


def test_account_config_update_both_shapes() -> None:
    a = parse_account_config({"e": "ACCOUNT_CONFIG_UPDATE", "E": 1611646737479, "T": 1611646737476,
                              "ac": {"s": "BTCUSDT", "l": 25}}, "x")
    assert (a.symbol, a.leverage, a.multi_assets_mode, a.transaction_time) == ("BTCUSDT", 25, None, 1611646737476)
    b = parse_account_config({"e": "ACCOUNT_CONFIG_UPDATE", "E": 1611646737479, "T": 1611646737476,
                              "ai": {"j": True}}, "x")
    assert (b.symbol, b.leverage, b.multi_assets_mode) == (None, None, True)


def test_algo_update() -> None:
    ev = {"e": "ALGO_UPDATE", "T": 1750515742297, "E": 1750515742303, "o": {
        "caid": "Q5xaq5EGKgXXa0fD7fs0Ip", "aid": 2148719, "at": "CONDITIONAL", "o": "TAKE_PROFIT", "s": "BNBUSDT",
        "S": "SELL", "ps": "BOTH", "f": "GTC", "q": "0.01", "X": "CANCELED", "ai": "", "ap": "0.00000",
        "aq": "0.00000", "act": "0", "tp": "750", "p": "750", "V": "EXPIRE_MAKER", "wt": "CONTRACT_PRICE",
        "pm": "NONE", "cp": False, "pP": False, "R": False, "tt": 0, "gtd": 0, "rm": "Reduce Only reject"}}
    a = parse_algo_update(ev, "x")
    assert (a.symbol, a.algo_id, a.client_algo_id, a.algo_type, a.order_type, a.side, a.status) == (
        "BNBUSDT", 2148719, "Q5xaq5EGKgXXa0fD7fs0Ip", "CONDITIONAL", "TAKE_PROFIT", "SELL", "CANCELED")
    assert (a.quantity, a.event_time, a.transaction_time, a.position_side, a.time_in_force) == (
        D("0.01"), 1750515742303, 1750515742297, "BOTH", "GTC")
    assert (a.price, a.trigger_price, a.order_id, a.average_price, a.filled_quantity, a.actual_order_type) == (
        D(750), D(750), None, D(0), D(0), None)
    assert (a.self_trade_prevention_mode, a.working_type, a.price_match, a.close_position, a.price_protect) == (
        "EXPIRE_MAKER", "CONTRACT_PRICE", "NONE", False, False)
    assert (a.reduce_only, a.trigger_time, a.good_till_date, a.reason, a.is_activated) == (
        False, 0, 0, "Reduce Only reject", None)
    b = parse_algo_update({**ev, "o": {**ev["o"], "X": "TRIGGERED", "ai": "123", "act": "MARKET", "ia": True}}, "x")
    assert (b.order_id, b.actual_order_type, b.is_activated) == ("123", "MARKET", True)


@pytest.mark.parametrize("value", ["1736996475556", 1736996475556])
def test_listen_key_expired_time_string_or_int(value: object) -> None:
    assert listen_key_expired_time({"e": "listenKeyExpired", "E": value, "listenKey": "k"}) == 1736996475556


@pytest.mark.parametrize("bad", [("p", "NaN"), ("q", "Infinity"), ("i", "8886774"), ("z", None)])
def test_order_trade_update_value_checks(bad: tuple) -> None:
    ev = {**OTU, "o": {**OTU["o"], bad[0]: bad[1]}}
    with pytest.raises((ValueError, TypeError, ArithmeticError)):
        parse_order_trade_update(ev, "x")


def test_trade_lite_value_checks() -> None:
    ev = {"e": "TRADE_LITE", "E": 1, "T": 2, "s": "B", "q": "1", "p": "0", "m": "false", "c": "c", "S": "BUY",
          "L": "1", "l": "1", "t": 1, "i": 1}
    with pytest.raises(ValueError):
        parse_trade_lite(ev, "x")


def test_dedupe_keys() -> None:
    assert futures_event_key(OTU) == ("ORDER_TRADE_UPDATE", 8886774, "NEW", "NEW", "0", 0, 1568879465651)
    assert futures_event_key({"e": "listenKeyExpired"}) is None


def test_private_urls() -> None:
    assert private_url("wss://fstream.binance.com/", "usdm", "ab/c", ("ORDER_TRADE_UPDATE",)) == (
        "wss://fstream.binance.com/private/ws?listenKey=ab%2Fc&events=ORDER_TRADE_UPDATE")
    assert private_url("wss://dstream.binance.com", "coinm", "k") == "wss://dstream.binance.com/ws/k"


def test_order_from_rest_futures_fields() -> None:
    u = futures_order_from_rest({"avgPrice": "0.00000", "clientOrderId": "abc", "cumQuote": "0", "executedQty": "0",
                                 "orderId": 1917641, "origQty": "0.40", "origType": "TRAILING_STOP_MARKET",
                                 "price": "0", "reduceOnly": False, "side": "BUY", "positionSide": "SHORT",
                                 "status": "NEW", "stopPrice": "9300", "closePosition": False, "symbol": "BTCUSDT",
                                 "time": 1579276756075, "timeInForce": "GTC", "type": "TRAILING_STOP_MARKET",
                                 "activatePrice": "9020", "priceRate": "0.3", "updateTime": 1579276756075,
                                 "workingType": "CONTRACT_PRICE", "priceProtect": False, "priceMatch": "NONE",
                                 "selfTradePreventionMode": "NONE", "goodTillDate": 0}, "x")
    assert (u.is_reconciled, u.position_side, u.activation_price, u.callback_rate, u.stop_price,
            u.original_order_type, u.good_till_date, u.event_time) == (
        True, "SHORT", D(9020), D("0.3"), D(9300), "TRAILING_STOP_MARKET", 0, 1579276756075)


def test_account_book_hedge_mode_keys_and_never_regresses() -> None:
    book = AccountBook("x")
    rows = [{"symbol": "BTCUSDT", "positionSide": "LONG", "positionAmt": "1", "entryPrice": "1",
             "unRealizedProfit": "0", "updateTime": 10},
            {"symbol": "BTCUSDT", "positionSide": "SHORT", "positionAmt": "-2", "entryPrice": "1",
             "unRealizedProfit": "0", "updateTime": 10}]
    assert book.reconcile(rows, [], 100) == ([], [])  # the seed reports nothing
    assert [(p.position_side, p.amount) for p in book.open_positions()] == [("LONG", D(1)), ("SHORT", D(-2))]
    live = bc.PositionUpdate("x", "BTCUSDT", "LONG", D(3), D(1), D(0), 50)
    assert book.apply_position(live)
    changed, _ = book.reconcile(rows, [], 100)  # REST (time 10) is older than the live update (50)
    assert changed == [] and book.positions[("BTCUSDT", "LONG")].amount == D(3)
    assert not book.apply_position(live.replace(event_time=40, amount=D(9)))
