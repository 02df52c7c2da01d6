"""A whole airflow-failover system on one machine, for the demo, the tests and the benchmarks.

- ``pgserver``: a throwaway PostgreSQL (initdb + pg_ctl in a temp dir, free port);
- ``cluster``: N daemons on loopback managing the stand-in scheduler, with the overlap checkers;
- ``airflow_site``: a real Airflow 3 site (AIRFLOW_HOME, metadata DB, api-server) and daemons that
  manage real ``airflow scheduler`` / ``dag-processor`` / ``triggerer`` processes;
- ``s3server``, ``rabbitmq``: a local S3-compatible server (moto) and a throwaway RabbitMQ;
- ``demo``: ``scripts/demo.sh``'s main job.

Product code: nothing here imports from ``tests/``.
"""
