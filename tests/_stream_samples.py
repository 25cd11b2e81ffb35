"""Sample payloads of every spot stream (web-socket-streams.md shapes), shared by the stream tests."""

from __future__ import annotations

E = 1672515782136
TRADE = {"e": "trade", "E": E, "s": "BNBBTC", "t": 12345, "p": "0.001", "q": "100", "T": E, "m": True, "M": True}
AGG = {"e": "aggTrade", "E": E, "s": "BNBBTC", "a": 1, "p": "0.001", "q": "100", "f": 100, "l": 105, "T": E,
       "m": True, "M": True}
BLOCK = {"e": "blockTrade", "E": E, "s": "BNBBTC", "t": 582, "p": "0.052", "q": "5838", "T": E, "m": True}
BOOK = {"u": 400900217, "s": "BNBUSDT", "b": "25.35190000", "B": "31.21000000", "a": "25.36520000",
        "A": "40.66000000"}
DIFF = {"e": "depthUpdate", "E": E, "s": "BNBBTC", "U": 157, "u": 160, "b": [["0.0024", "10"]],
        "a": [["0.0026", "100"]]}
PARTIAL = {"lastUpdateId": 160, "bids": [["0.0024", "10"]], "asks": [["0.0026", "100"]]}
KLINE = {"e": "kline", "E": E, "s": "BNBBTC", "k": {
    "t": E, "T": E + 59999, "s": "BNBBTC", "i": "1m", "f": 100, "L": 200, "o": "0.0010", "c": "0.0020",
    "h": "0.0025", "l": "0.0015", "v": "1000", "n": 100, "x": False, "q": "1.0000", "V": "500", "Q": "0.500",
    "B": "123456"}}
MINI = {"e": "24hrMiniTicker", "E": E, "s": "BNBBTC", "c": "0.0025", "o": "0.0010", "h": "0.0025",
        "l": "0.0010", "v": "10000", "q": "18"}
TICKER = {"e": "24hrTicker", "E": E, "s": "BNBBTC", "p": "0.0015", "P": "250.00", "w": "0.0018", "x": "0.0009",
          "c": "0.0025", "Q": "10", "b": "0.0024", "B": "10", "a": "0.0026", "A": "100", "o": "0.0010",
          "h": "0.0025", "l": "0.0010", "v": "10000", "q": "18", "O": 0, "C": 86400000, "F": 0, "L": 18150,
          "n": 18151}
ROLLING = {"e": "1hTicker", "E": E, "s": "BNBBTC", "p": "0.0015", "P": "250.00", "o": "0.0010", "h": "0.0025",
           "l": "0.0010", "c": "0.0025", "w": "0.0018", "v": "10000", "q": "18", "O": 0, "C": 1675216573749,
           "F": 0, "L": 18150, "n": 18151}
AVG = {"e": "avgPrice", "E": E, "s": "BTCUSDT", "i": "5m", "w": "25776.86000000", "T": E}
REF = {"e": "referencePrice", "s": "BAZUSD", "r": "1.00", "t": 1770313263917}
