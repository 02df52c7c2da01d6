"""Fixtures of the chaos suite: one set of namespaces and one PostgreSQL host for the session.

Skips the whole suite, with the reason, when this process cannot make network namespaces (not
root, no iproute2/iptables, a container without CAP_NET_ADMIN). Leftovers of a crashed earlier
run are removed first; everything this run makes is removed in the finalizer, also on failure
and on SIGTERM.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest

from localcluster.chaos.env import ChaosEnv
from localcluster.chaos.netns import NetnsUnavailable, cleanup_leftovers, why_unavailable
from localcluster.cluster import daemon_binary


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: fault injection on network namespaces (root)")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so the finalizers below still run


@pytest.fixture(scope="session")
def chaos_env() -> Iterator[ChaosEnv]:
    reason = why_unavailable()
    if reason:
        pytest.skip(f"chaos suite skipped: {reason}")
    daemon_binary()  # a clear error when the daemon is not built
    cleanup_leftovers()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        try:
            env = ChaosEnv.create()
        except NetnsUnavailable as e:
            pytest.skip(f"chaos suite skipped: {e}")
        try:
            yield env
        finally:
            env.close()
    finally:
        signal.signal(signal.SIGTERM, previous)
