"""The chaos harness: a cluster of daemons in network namespaces, faults, and the invariants
checked after each (tests/chaos and bench/chaos.py)."""
