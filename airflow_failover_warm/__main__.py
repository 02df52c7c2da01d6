"""``python -m airflow_failover_warm scheduler|dag-processor|triggerer [options]``."""

import sys

from airflow_failover_warm import main

sys.exit(main())
