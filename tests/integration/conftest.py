"""Fixtures of the Connector integration tests (defined in _connector_helpers)."""

from _connector_helpers import fake, no_conn_threads, started  # noqa: F401 - pytest fixtures
