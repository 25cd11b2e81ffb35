"""Generic I/O plumbing, nothing Binance-specific: the WebSocket transport (socket, TLS,
proxy, abort), the connect-forever loop, dispatch (queues and workers), topics.

Imports ``_core`` and value modules only, never a session.
"""
