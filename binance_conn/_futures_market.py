"""Futures market-stream facade methods of :class:`~binance_conn.Connector` (issue 14).

A mixin: every method builds the stream name(s) (``_core/futures_streams.py``) and hands them
to the connector's ordinary subscription path; the market session shards them per route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Union

from ._core import futures_streams as fstreams
from ._core import streams as stream_names
from .errors import ValidationError

if TYPE_CHECKING:
    from ._io.dispatch import Subscription
    from .config import Config

__all__ = ["FuturesMarketMixin"]

Callback = Callable[[Any], None]
Symbols = Union[str, List[str]]


class FuturesMarketMixin:
    """``on_mark_price``, ``on_liquidation``, ``on_continuous_kline`` ... (futures connectors only)."""

    if TYPE_CHECKING:
        _config: Config
        rest: Any

        def _subscribe_streams(self, symbol: Symbols, name: Callable[[str], str], callback: Optional[Callback],
                               options: Dict[str, Any]) -> Any: ...

        def _subscribe_topic(self, topic: str, callback: Optional[Callback], options: Dict[str, Any]
                             ) -> Subscription: ...

    def _futures_only(self, method: str) -> str:
        product = self._config.exchange.product
        if product == "spot":
            raise ValidationError("exchange", self._config.exchange.name,
                                  f"{method}() is a futures stream: use a binance-usdm/-coinm connector")
        return product

    def _product_namer(self, builder: Callable[[str], str]) -> Callable[[str], str]:
        """A spot name builder made to accept futures symbols with ``_`` (COIN-M ``BTCUSD_PERP``)."""
        if self._config.exchange.product == "spot":
            return builder

        def name(symbol: str) -> str:
            if not isinstance(symbol, str) or "_" not in symbol:
                return builder(symbol)
            sym = fstreams.normalize_symbol(symbol)
            base = sym.replace("_", "")
            built = builder(base)  # the spot builder validates everything but the "_"
            return sym + built[len(base):] if built.startswith(base + "@") else builder(symbol)

        return name

    def _rest_path(self, path: str) -> str:
        """The product's path of a spot market-data path the market room asks for (activity probe, backfill)."""
        return fstreams.rest_path(self._config.exchange.product, path)

    def _history_get(self, path: str, params: Dict[str, Any], timeout: float) -> Any:
        """REST GET of the gap backfill (``rest.probe``: cut by stop()), on the product's path."""
        return self.rest.probe(timeout, self._rest_path(path), params)

    def _check_market_topic(self, topic: str) -> None:
        """Refuse a stream the product does not have (spot-only on futures, futures-only on spot)."""
        if not topic.startswith("__"):
            fstreams.check_stream(self._config.exchange.product, topic)

    def _parse_stream_name(self, stream: str) -> None:
        product = self._config.exchange.product
        if product == "spot":
            stream_names.parse(stream)
        else:
            fstreams.parse(stream, product)

    def on_mark_price(self, symbol: Symbols, callback: Optional[Callback] = None, speed: Optional[str] = None,
                      **options: Any) -> Any:
        """``<symbol>@markPrice[@1s]`` -> :class:`~binance_conn.MarkPrice` (every 3 s, or 1 s with ``speed="1s"``)."""
        self._futures_only("on_mark_price")
        fstreams.mark_price("x", speed)  # validates speed before anything is subscribed
        return self._subscribe_streams(symbol, lambda s: fstreams.mark_price(s, speed), callback, options)

    def on_all_mark_prices(self, callback: Optional[Callback] = None, speed: Optional[str] = None,
                           **options: Any) -> Any:
        """``!markPrice@arr[@1s]`` -> one :class:`~binance_conn.MarkPrice` per symbol."""
        self._futures_only("on_all_mark_prices")
        return self._subscribe_topic(fstreams.all_mark_prices(speed), callback, options)

    def on_liquidation(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@forceOrder`` -> :class:`~binance_conn.Liquidation` (latest per 1000 ms)."""
        self._futures_only("on_liquidation")
        return self._subscribe_streams(symbol, fstreams.liquidation, callback, options)

    def on_all_liquidations(self, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``!forceOrder@arr`` -> :class:`~binance_conn.Liquidation` of every symbol."""
        self._futures_only("on_all_liquidations")
        return self._subscribe_topic(fstreams.all_liquidations(), callback, options)

    def on_continuous_kline(self, pair: Symbols, contract_type: str, interval: str,
                            callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<pair>_<contractType>@continuousKline_<interval>`` -> :class:`~binance_conn.ContinuousKline`."""
        self._futures_only("on_continuous_kline")
        fstreams.continuous_kline("x", contract_type, interval)  # validates before subscribing
        return self._subscribe_streams(pair, lambda p: fstreams.continuous_kline(p, contract_type, interval),
                                       callback, options)

    def on_composite_index(self, symbol: Symbols, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``<symbol>@compositeIndex`` -> :class:`~binance_conn.CompositeIndex` (USD-M)."""
        self._futures_only("on_composite_index")
        return self._subscribe_streams(symbol, fstreams.composite_index, callback, options)

    def on_contract_info(self, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``!contractInfo`` -> :class:`~binance_conn.ContractInfo` (listings, settlements, brackets)."""
        self._futures_only("on_contract_info")
        return self._subscribe_topic(fstreams.contract_info(), callback, options)

    def on_asset_index(self, symbol: Optional[Symbols] = None, callback: Optional[Callback] = None,
                       **options: Any) -> Any:
        """``<asset>@assetIndex`` (or ``!assetIndex@arr`` with ``symbol=None``) -> :class:`~binance_conn.AssetIndex`."""
        self._futures_only("on_asset_index")
        if symbol is None:
            return self._subscribe_topic(fstreams.all_asset_indexes(), callback, options)
        return self._subscribe_streams(symbol, fstreams.asset_index, callback, options)

    def on_all_tickers(self, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``!ticker@arr`` (futures only) -> one :class:`~binance_conn.Ticker` per changed symbol."""
        self._futures_only("on_all_tickers")
        return self._subscribe_topic(fstreams.all_tickers(), callback, options)

    def on_all_book_tickers(self, callback: Optional[Callback] = None, **options: Any) -> Any:
        """``!bookTicker`` (futures only) -> :class:`~binance_conn.BookTicker` of every symbol."""
        self._futures_only("on_all_book_tickers")
        return self._subscribe_topic(fstreams.all_book_tickers(), callback, options)
