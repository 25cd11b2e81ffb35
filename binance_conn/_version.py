"""The package version (single source; setup.cfg reads it via binance_conn.__version__)."""

__version__ = "0.1.0"

