#!/usr/bin/env python3
"""Writes a few valid datagrams (empty key) as a starting corpus for the decoder fuzzer."""

import sys
from pathlib import Path

from tests.support.heartbeat_wire import encode

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
for i, (node, role) in enumerate([("sched-a", 1), ("sched-b", 0), ("x", 2)]):
    (out / f"seed{i}").write_bytes(
        encode(cluster="prod", node=node, key=b"", role=role, incarnation=i + 1, seq=7, term=3)
    )
