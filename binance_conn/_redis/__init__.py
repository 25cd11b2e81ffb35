"""Redis plumbing for a fleet of processes (``binance_conn[redis]``).

``limits``: the request-weight windows, order counts, ban gate and connection-attempt budget
shared through Redis (``with_shared_limits``); ``client``: connecting with short timeouts and
the lazy import of redis-py.  Imports ``_io`` and ``_core`` only; ``redis`` is imported on
first use, so the core library works without the extra.
"""
