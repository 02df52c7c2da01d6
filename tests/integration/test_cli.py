"""The command line: status, init-db, check-config, with their exit codes and messages."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(daemon_binary()), *args], capture_output=True, text=True, timeout=30, check=False
    )


def write_config(path: Path, **over: object) -> Path:
    cfg: dict[str, object] = {
        "cluster": "cli",
        "node_id": "n1",
        "database": {"conninfo": "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2"},
        "processes": [{"name": "scheduler", "command": ["true"]}],
    }
    cfg.update(over)
    path.write_text(json.dumps(cfg))
    return path


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("airflow-failover ")
    res = run("--help")
    assert res.returncode == 0 and "status" in res.stdout and "init-db" in res.stdout


def test_unknown_command_is_an_error() -> None:
    res = run("bogus", "--config", "/nonexistent")
    assert res.returncode == 2 and "unknown command 'bogus'" in res.stderr


def test_check_config_names_the_key_and_rule(tmp_path: Path) -> None:
    bad = write_config(tmp_path / "c.json", lease={"ttl_ms": 3000, "renew_interval_ms": 1500})
    res = run("check-config", "--config", str(bad))
    assert res.returncode == 2
    assert "lease.renew_interval_ms" in res.stderr and "third of lease.ttl_ms" in res.stderr
    typo = write_config(tmp_path / "t.json", proceses=[])
    res = run("check-config", "--config", str(typo))
    assert res.returncode == 2 and "proceses: unknown key" in res.stderr
    good = write_config(tmp_path / "g.json")
    res = run("check-config", "--config", str(good))
    assert res.returncode == 0 and "config OK" in res.stdout


def test_missing_config_file(tmp_path: Path) -> None:
    res = run("status", "--config", str(tmp_path / "nope.json"))
    assert res.returncode == 2 and "cannot read" in res.stderr


def test_status_unreachable_database_exits_2(tmp_path: Path) -> None:
    port = free_tcp_port()
    cfg = write_config(
        tmp_path / "c.json", database={"conninfo": f"host=127.0.0.1 port={port} dbname=x user=x"}
    )
    res = run("status", "--json", "--config", str(cfg))
    assert res.returncode == 2
    out = json.loads(res.stdout)
    assert out["active"] is None and "error" in out


def test_status_without_active_exits_1(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(pg, tmp_path / "c")
    assert cluster.cli("init-db").returncode == 0
    res = cluster.cli("status", "--json")
    assert res.returncode == 1
    out = json.loads(res.stdout)
    assert set(out) >= {"cluster", "active", "term", "nodes"} and out["active"] is None


def test_status_with_active_exits_0_and_shows_nodes(cluster: Cluster) -> None:
    cluster.start()
    active = cluster.wait_active()
    res = cluster.cli("status", "--json")
    assert res.returncode == 0
    out = json.loads(res.stdout)
    assert out["active"] == active and out["term"] >= 1
    node = next(n for n in out["nodes"] if n["node_id"] == active)
    pids = [p["pid"] for p in node["processes"]]
    assert pids and all(isinstance(p, int) for p in pids)
    text = cluster.cli("status")
    assert text.returncode == 0 and f"active {active}" in text.stdout


def test_concurrent_init_db_is_safe(tmp_path: Path) -> None:
    with PgServer() as own:
        cfg = write_config(
            tmp_path / "c.json", database={"conninfo": own.conninfo(), "schema": "af_concurrent"}
        )
        with ThreadPoolExecutor(6) as ex:
            results = list(ex.map(lambda _: run("init-db", "--config", str(cfg)), range(6)))
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        applied = sorted(int(r.stdout.split("applied ")[1].split()[0]) for r in results)
        versions = int(own.psql("SELECT count(*) FROM af_concurrent.schema_migrations"))
        # Exactly one run applied every migration; the others found nothing left to do.
        assert versions >= 1 and applied == [0, 0, 0, 0, 0, versions]


def test_events_are_append_only(pg: PgServer, tmp_path: Path) -> None:
    cluster = Cluster(pg, tmp_path / "c")
    assert cluster.cli("init-db").returncode == 0
    pg.psql("INSERT INTO airflow_failover.events (cluster, node_id, kind) VALUES ('x','y','z')")
    try:
        pg.psql("DELETE FROM airflow_failover.events WHERE cluster = 'x'")
    except RuntimeError as e:
        assert "append-only" in str(e)
    else:
        raise AssertionError("deleting an event succeeded")
