"""The REST client (public path: ``binance_conn.rest``), its endpoint table and limiter."""
