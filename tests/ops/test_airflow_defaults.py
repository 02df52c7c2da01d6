"""Issue 20, the shipped defaults around Airflow, with the real binary: check-config names the
hostname Airflow records (Airflow's own rule, compared with Airflow itself on a "host" whose
canonical name differs from gethostname(), as on EC2), refuses the shipped placeholder node id,
and `init-db --airflow-role` grants exactly what the takeover step needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from localcluster.airflow_site import venv_bin
from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer
from localcluster.procs import own_host_argv
from tests.support.helpers import REPO

SHIPPED = REPO / "config" / "airflow-failover.json"


def minimal_config(tmp: Path, **extra: object) -> Path:
    cfg = {
        "cluster": "c",
        "node_id": "node-a",
        "database": {"conninfo": "host=127.0.0.1 dbname=postgres user=postgres"},
        "processes": [
            {"name": "scheduler", "command": ["/bin/true", "airflow", "scheduler"]},
        ],
        **extra,
    }
    path = tmp / f"{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(cfg))
    return path


def on_own_host(hostname: str, hosts_line: str | None, argv: list[str], tmp: Path) -> str:
    """argv's stdout, run with gethostname() = hostname and /etc/hosts = this host's plus
    hosts_line (UTS and mount namespaces of its own)."""
    hosts = tmp / f"hosts-{uuid.uuid4().hex[:6]}"
    hosts.write_text(Path("/etc/hosts").read_text() + (f"\n{hosts_line}\n" if hosts_line else ""))
    res = subprocess.run(
        [*own_host_argv(hostname, hosts), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def grant_airflow(cfg: Path, admin_conninfo: str, role: str) -> subprocess.CompletedProcess[str]:
    """`init-db --airflow-role ROLE` as an administrator."""
    argv = [str(daemon_binary()), "init-db", "--config", str(cfg), "--conninfo", admin_conninfo]
    return subprocess.run([*argv, "--airflow-role", role], capture_output=True, text=True, check=False)


def check_config_hostname(out: str) -> str:
    line = next(ln for ln in out.splitlines() if "Airflow hostname of this node:" in ln)
    return line.split(":", 1)[1].split()[0]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare(1)")
@pytest.mark.parametrize(
    "hosts_line,expected",
    [
        ("127.0.1.1 ip-10-0-0-12.ec2.internal ip-10-0-0-12", "ip-10-0-0-12.ec2.internal"),
        (None, "ip-10-0-0-12"),  # no answer for the name: Airflow falls back to gethostname()
    ],
)
def test_check_config_names_the_hostname_airflow_records(
    tmp_path: Path, hosts_line: str | None, expected: str
) -> None:
    cfg = minimal_config(tmp_path)
    ours = check_config_hostname(
        on_own_host(
            "ip-10-0-0-12", hosts_line, [str(daemon_binary()), "check-config", "--config", str(cfg)], tmp_path
        )
    )
    airflows = on_own_host(
        "ip-10-0-0-12",
        hosts_line,
        [str(venv_bin() / "python"), "-c", "from airflow.utils.net import getfqdn; print(getfqdn())"],
        tmp_path,
    ).strip()
    assert ours == airflows == expected


def test_check_config_prints_the_takeover_and_the_configured_hostname(tmp_path: Path) -> None:
    cfg = minimal_config(tmp_path, airflow={"hostnames": {"node-a": "a.example.com"}})
    out = subprocess.run(
        [str(daemon_binary()), "check-config", "--config", str(cfg)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Airflow hostname of this node: a.example.com (airflow.hostnames.node-a)" in out, out
    assert "Airflow takeover: on;" in out and "SchedulerJob" in out, out
    off = minimal_config(tmp_path, airflow={"takeover": {"enabled": False}})
    out = subprocess.run(
        [str(daemon_binary()), "check-config", "--config", str(off)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Airflow takeover: off (airflow.takeover.enabled false)" in out, out


def test_check_config_refuses_the_shipped_placeholder_node_id(tmp_path: Path) -> None:
    res = subprocess.run(
        [str(daemon_binary()), "check-config", "--config", str(SHIPPED)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert 'config error: node_id: "CHANGE-ME-sched-a" is the shipped placeholder' in res.stderr, res.stderr
    cfg = json.loads(SHIPPED.read_text())
    cfg["node_id"] = "sched-a"
    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps(cfg))
    res = subprocess.run(
        [str(daemon_binary()), "check-config", "--config", str(fixed)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "node_id:" not in res.stderr, res.stderr


def test_the_shipped_config_runs_every_airflow_singleton_with_the_takeover(tmp_path: Path) -> None:
    cfg = json.loads(SHIPPED.read_text())
    assert [p["command"][-1] for p in cfg["processes"]] == ["scheduler", "dag-processor", "triggerer"]
    assert all(p.get("user") == "airflow" for p in cfg["processes"])
    assert cfg["airflow"]["takeover"]["enabled"] is True
    for example in sorted((REPO / "config" / "airflow").glob("*.json")):
        procs = json.loads(example.read_text())["processes"]
        assert all(p.get("user") == "airflow" for p in procs), example
    out = subprocess.run(
        [str(daemon_binary()), "check-config", "--syntax-only", "--config", str(SHIPPED)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SchedulerJob, DagProcessorJob, TriggererJob" in out, out


# Airflow's job table as far as the takeover and the airflow-db check use it (airflow/jobs/job.py).
JOB_TABLE = """
CREATE TABLE job (id serial PRIMARY KEY, dag_id varchar(250), state varchar(20),
    job_type varchar(30), start_date timestamptz, end_date timestamptz,
    latest_heartbeat timestamptz, executor_class varchar(500), hostname varchar(500),
    unixname varchar(1000));
INSERT INTO job (state, job_type, hostname, start_date, latest_heartbeat)
    VALUES ('running', 'SchedulerJob', 'dead.example', now(), now());
"""


def test_init_db_airflow_role_grants_what_the_takeover_needs(pg: PgServer, tmp_path: Path) -> None:
    db = f"grants_{uuid.uuid4().hex[:6]}"
    role = f"af_takeover_{uuid.uuid4().hex[:6]}"
    pg.psql(f"CREATE DATABASE {db}")
    pg.psql(JOB_TABLE, dbname=db)
    pg.psql(f"CREATE ROLE {role} LOGIN")
    cfg = minimal_config(tmp_path)
    conf = json.loads(cfg.read_text())
    conf["database"]["conninfo"] = pg.conninfo(db, user=role)
    cfg.write_text(json.dumps(conf))
    # Before: the takeover's statement is refused.
    update = (
        "UPDATE job SET state = 'failed', end_date = clock_timestamp() WHERE hostname = 'dead.example'"
        " AND state = 'running' AND job_type = ANY (string_to_array('SchedulerJob', ','))"
        " RETURNING id, job_type"
    )
    psql = [str(pg.bindir / "psql"), "-X", "-q", "-At", "-d", pg.conninfo(db, user=role), "-c", update]
    assert subprocess.run(psql, capture_output=True, text=True, check=False).returncode != 0
    res = grant_airflow(cfg, pg.conninfo(db), role)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"granted SELECT, UPDATE (state, end_date) ON job to {role}" in res.stdout, res.stdout
    res = subprocess.run(psql, capture_output=True, text=True, check=False)
    assert res.returncode == 0 and res.stdout.strip() == "1|SchedulerJob", res.stdout + res.stderr
    # Nothing more than that: no other column may be written.
    privs = pg.psql(
        f"SELECT has_column_privilege('{role}', 'job', 'hostname', 'UPDATE'),"
        f" has_column_privilege('{role}', 'job', 'state', 'UPDATE'),"
        f" has_table_privilege('{role}', 'job', 'DELETE'), has_table_privilege('{role}', 'job', 'INSERT')",
        dbname=db,
    )
    assert privs == "f|t|f|f", privs
    # A role that does not exist is named.
    res = grant_airflow(cfg, pg.conninfo(db), "nobody_here")
    assert res.returncode != 0 and "--airflow-role: no role named nobody_here" in res.stderr, res.stderr
