"""The market-data session: shard links, their reader threads, the supervisor.

Executes the decisions of ``_core`` (the lifecycle table in ``_core/lifecycle.py``:
link states connecting / subscribing / ready / zombie / lost / draining / retired and
the rollover states steady / opening / overlap / draining / grace; protocol, health,
pacing, subscriptions); imports ``_io`` and ``_core`` only.  ``link.py`` needs its
session only through the ``MarketHost`` protocol (no import cycle).
"""
