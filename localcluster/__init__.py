"""A whole airflow-failover system on one machine, for the demo, the tests and the benchmarks.

- ``pgserver``: a throwaway PostgreSQL (initdb + pg_ctl in a temp dir, free port);
- ``cluster``: ``DaemonCluster``, N daemons sharing the database, each node's config written by
  the typed builder (``daemon_config``) and started by a launcher (``launch``: local processes;
  ``chaos.launch``: network namespaces); by default they manage the stand-in scheduler, whose
  records (``standin``) prove the guarantees;
- ``faults``: faults on the daemons, hosts and database (``chaos.faults`` adds the network ones);
- ``procfs``: every read of /proc; ``procs``: starting, stopping and sweeping processes;
- ``airflow_site``: a real Airflow 3 site (AIRFLOW_HOME, metadata DB, api-server);
  ``airflow_pair``: the local cluster with real ``airflow scheduler`` / ``dag-processor`` /
  ``triggerer`` processes for workload;
- ``s3server``, ``rabbitmq``: a local S3-compatible server (moto) and a throwaway RabbitMQ;
- ``demo``: ``scripts/demo.sh``'s main job.

Product code: nothing here imports from ``tests/``.
"""
