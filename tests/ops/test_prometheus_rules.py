"""The shipped Prometheus rules and Grafana dashboard (packaging/), checked against the real
thing: promtool runs the rules' unit tests, and every metric name the rules and the dashboard
mention is one a real daemon exports, with a `cluster` label on every series."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localcluster.cluster import Cluster
from tests.support.helpers import http_get

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "packaging/prometheus/airflow-failover.rules.yml"
RULES_TEST = ROOT / "packaging/prometheus/airflow-failover.rules.test.yml"
DASHBOARD = ROOT / "packaging/grafana/airflow-failover.json"

# A metric name, not part of a recording rule's name (level:metric:operations).
METRIC = re.compile(r"(?<![\w:])airflow_failover_\w+(?![\w:])")
SAMPLE = re.compile(r"^(\w+)(\{[^}]*\})? ")


def test_promtool_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not found: scripts/lib/deps.sh installs Debian's prometheus package"
    res = subprocess.run(
        [promtool, "test", "rules", RULES_TEST.name],
        cwd=RULES_TEST.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def names_in_rules() -> set[str]:
    lines = [line for line in RULES.read_text().splitlines() if not line.lstrip().startswith("#")]
    return set(METRIC.findall("\n".join(lines)))


def names_in_dashboard() -> set[str]:
    return {n for s in strings(json.loads(DASHBOARD.read_text())) for n in METRIC.findall(s)}


def test_rules_and_dashboard_name_only_exported_metrics(metrics_cluster: Cluster) -> None:
    c = metrics_cluster
    ports = c.metrics_ports
    c.start()
    c.wait_active()

    def both_hear_a_peer() -> bool:
        return all(
            "airflow_failover_peer_last_heard_seconds{" in http_get(p, "/metrics")[1] for p in ports.values()
        )

    c.wait_for(both_hear_a_peer, 10, "both nodes to hear each other")
    exported: set[str] = set()
    for port in ports.values():
        status, body = http_get(port, "/metrics")
        assert status == 200
        for line in body.splitlines():
            # A family declared with no series yet (hook runs before any hook ran) counts:
            # its series appear with the first event.
            if line.startswith("# TYPE "):
                exported.add(line.split()[2])
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            assert m, line
            exported.add(m.group(1))
            assert f'cluster="{c.name}"' in (m.group(2) or ""), f"a series without the cluster label: {line}"
    used_rules, used_dashboard = names_in_rules(), names_in_dashboard()
    # The extraction finds what it should (a broken regex would pass vacuously).
    assert {"airflow_failover_active", "airflow_failover_switchovers_total"} <= used_rules
    assert "airflow_failover_renew_latency_seconds_bucket" in used_dashboard
    assert not used_rules - exported, (
        f"rules name metrics the daemon does not export: {used_rules - exported}"
    )
    assert not used_dashboard - exported, (
        f"the dashboard names metrics the daemon does not export: {used_dashboard - exported}"
    )
