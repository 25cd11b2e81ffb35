"""The market-data session: shard links, their reader threads, the supervisor.

Executes the decisions of ``_core`` (protocol, health, pacing, subscriptions);
imports ``_io`` and ``_core`` only.
"""
