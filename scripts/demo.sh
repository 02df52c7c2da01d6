#!/usr/bin/env bash
# The main job: the whole system on one machine. Installs what is missing (idempotent), builds
# the daemon, then runs localcluster/demo.py: a throwaway PostgreSQL, a local S3 server with Xetra
# files, real Airflow schedulers under airflow-failover daemons, the dashboard and a live view.
#   scripts/demo.sh                      2 scheduler hosts, LocalExecutor, until Ctrl-C
#   scripts/demo.sh --executor celery    CeleryExecutor with RabbitMQ and one worker host
#   scripts/demo.sh --spark-cluster      the pipeline on a Spark standalone master + 2 workers, s3a://
#   scripts/demo.sh --standin            the quick demo: a stand-in scheduler, no Airflow
#   scripts/demo.sh --help               every option
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/deps.sh
source scripts/lib/deps.sh
ensure_apt_packages
# shellcheck source=lib/python-env.sh
source scripts/lib/python-env.sh
ensure_python_env
# shellcheck source=lib/spark-jars.sh
source scripts/lib/spark-jars.sh
ensure_spark_s3a_jars
build_daemon build
exec .venv/bin/python -m localcluster.demo "$@"
