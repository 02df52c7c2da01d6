"""The daemon as a Type=notify service: READY=1 after the first database answer, STATUS= in
words, WATCHDOG=1 pings from its own loop (and none for a loop that was stopped), RELOADING=1
and READY=1 around SIGHUP with unsafe changes refused, STOPPING=1 on SIGTERM. The test plays
systemd: it owns the notification socket and sets WATCHDOG_USEC/WATCHDOG_PID."""

from __future__ import annotations

import itertools
import json
import signal
from pathlib import Path

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from tests.ops.systemd_notify import NotifySocket, start_under_systemd_env


def test_ready_status_watchdog_reload_stopping(
    pg: PgServer, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    # Not the default TTL: the loop is stopped for 1.5 s below and must keep its term (the
    # reload is checked in term 1), so the lease must outlast the stop.
    c = Cluster(pg, tmp_path / "cluster", size=1, ttl_ms=3000, renew_ms=500)
    node = c.nodes["node-a"]
    proc = start_under_systemd_env(
        daemon_binary(), node.config, notify_socket.path, node.log, watchdog_usec=1_000_000
    )
    node.proc = proc
    try:
        ready = notify_socket.wait_for("READY", 15, "1")
        # READY carries the first status; a lone node wins the lease at once.
        first_status = ready.get("STATUS", "")
        status = notify_socket.wait_for("STATUS", 10) if "active in term" not in first_status else ready
        while "active in term" not in status["STATUS"]:
            status = notify_socket.wait_for("STATUS", 10)
        assert status["STATUS"].startswith("active in term 1")

        # WatchdogSec=1s: pings at least every 0.5 s, only from the daemon's loop.
        pings = [t for t, f in notify_socket.drain(3.0) if f.get("WATCHDOG") == "1"]
        assert len(pings) >= 5, f"{len(pings)} pings in 3 s: {notify_socket.messages[-10:]}"
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert max(gaps) < 0.9, f"watchdog gaps {gaps}"

        # A stopped loop sends nothing, and the first check after waking is late: no ping then.
        proc.send_signal(signal.SIGSTOP)
        stopped = notify_socket.drain(1.5)
        assert not [f for _, f in stopped if "WATCHDOG" in f], stopped
        proc.send_signal(signal.SIGCONT)
        notify_socket.wait_for("WATCHDOG", 3, "1")  # and pings resume
        assert "no watchdog ping this round" in node.log.read_text()

        # SIGHUP: log level applied, the lease change refused with the key named.
        cfg = json.loads(node.config.read_text())
        cfg["log"]["level"] = "debug"
        cfg["lease"]["ttl_ms"] = 6000
        node.config.write_text(json.dumps(cfg))
        proc.send_signal(signal.SIGHUP)
        reloading = notify_socket.wait_for("RELOADING", 5, "1")
        assert int(reloading["MONOTONIC_USEC"]) > 0
        again = notify_socket.wait_for("READY", 5, "1")
        assert again["STATUS"].startswith("active in term 1")
        log = node.log.read_text()
        assert "SIGHUP: log level now debug" in log
        # (the supervision cooldown defaults to 2 x ttl, so it changes with it)
        assert "SIGHUP: changes to lease, supervision need a restart" in log

        # A broken file keeps the running config (and still answers READY=1).
        node.config.write_text("{ not json")
        proc.send_signal(signal.SIGHUP)
        notify_socket.wait_for("RELOADING", 5, "1")
        notify_socket.wait_for("READY", 5, "1")
        assert "config not reloaded, kept the running one" in node.log.read_text()

        proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for("STOPPING", 15, "1")
        assert proc.wait(timeout=20) == 0
    finally:
        c.stop_all()


def test_standby_status_names_the_active_and_no_pings_for_another_pid(
    pg: PgServer, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    c = Cluster(pg, tmp_path / "cluster", size=2)
    try:
        c.start(["node-a"])
        c.wait_active()
        node = c.nodes["node-b"]
        # WATCHDOG_USEC without WATCHDOG_PID naming us: the watchdog is someone else's.
        env_proc = start_under_systemd_env(
            daemon_binary(), node.config, notify_socket.path, node.log, watchdog_usec=None
        )
        node.proc = env_proc
        ready = notify_socket.wait_for("READY", 15, "1")
        assert ready["STATUS"].startswith("standby; node-a is active in term"), ready
        later = notify_socket.drain(1.5)
        assert not [f for _, f in later if "WATCHDOG" in f]
    finally:
        c.stop_all()


def test_status_line_shows_the_pause_and_a_dead_holder_loudly(
    pg: PgServer, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    """Maintenance mode in STATUS= (issue 17), on a standby without heartbeats: it does not poll
    the lease while paused, so it must learn the holder from the pause reads to tell "node-a is
    active" (more than a TTL later) from "nobody is"."""
    c = Cluster(pg, tmp_path / "cluster", size=2)
    try:
        c.start(["node-a"])
        c.wait_active()
        node = c.nodes["node-b"]
        node.proc = start_under_systemd_env(
            daemon_binary(), node.config, notify_socket.path, node.log, watchdog_usec=None
        )
        notify_socket.wait_for("READY", 15, "1")
        assert c.cli("pause", "--reason", "deploy").returncode == 0
        status = notify_socket.wait_for("STATUS", 10)
        assert status["STATUS"].startswith("PAUSED by cli:"), status
        assert "(deploy)" in status["STATUS"] and "node-a is active in term" in status["STATUS"]
        # Two TTLs later, still: the holder is alive and renewing.
        later = notify_socket.drain(2 * c.ttl_ms / 1000)
        assert not [f for _, f in later if "NO ACTIVE NODE" in f.get("STATUS", "")], later
        c.signal("node-a", signal.SIGKILL)
        loud = notify_socket.wait_for("STATUS", 15)
        while "NO ACTIVE NODE" not in loud["STATUS"]:
            loud = notify_socket.wait_for("STATUS", 15)
        assert loud["STATUS"].startswith("PAUSED by cli:"), loud
        assert loud["STATUS"].endswith("NO ACTIVE NODE and nobody takes over until resume")
        assert c.cli("resume").returncode == 0
        active = notify_socket.wait_for("STATUS", 10)
        while not active["STATUS"].startswith("active in term"):
            active = notify_socket.wait_for("STATUS", 10)
    finally:
        c.stop_all()
