#!/usr/bin/env bash
# The main job: a local airflow-failover cluster on loopback with a throwaway PostgreSQL.
# Installs what is missing (idempotent), builds the daemon, then runs scripts/demo.py:
# three daemons managing a stand-in scheduler and a live status view. Ctrl-C tears it down.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/deps.sh
source scripts/lib/deps.sh
ensure_apt_packages
PY=python3
if [ -f scripts/lib/python-env.sh ]; then
    # shellcheck source=lib/python-env.sh
    source scripts/lib/python-env.sh
    ensure_python_env
    PY=.venv/bin/python
fi
build_daemon build
exec "$PY" scripts/demo.py "$@"
