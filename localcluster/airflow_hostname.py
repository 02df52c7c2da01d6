"""``[core] hostname_callable`` for two Airflow "hosts" on one machine.

Returns the failover node id that the airflow-failover daemon puts in the environment of the
processes it starts (``AIRFLOW_FAILOVER_NODE``), so each node's scheduler job row, task instances
and the daemon's ``airflow-db`` health check agree on one hostname per node. Processes not started
by a daemon (the shared api-server and dag-processor of the tests) fall back to the FQDN.

    AIRFLOW__CORE__HOSTNAME_CALLABLE=localcluster.airflow_hostname.node_hostname   (module on PYTHONPATH)
"""

from __future__ import annotations

import os
import socket


def node_hostname() -> str:
    return os.environ.get("AIRFLOW_FAILOVER_NODE") or socket.getfqdn()
