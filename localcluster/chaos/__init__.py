"""The chaos suite's side of the local cluster: the daemons on hosts of their own (network
namespaces: netns.py, launch.py), a real PostgreSQL host (env.py), the faults (faults.py) and one
trial with every check after it (trial.py). Used by tests/chaos and bench/chaos.py."""
