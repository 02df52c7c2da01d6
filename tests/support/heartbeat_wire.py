"""An independent Python encoder of the heartbeat datagram (docs/heartbeat-protocol.md), used
to send crafted datagrams at real daemons."""

from __future__ import annotations

import hashlib
import hmac
import struct

MAGIC = b"AFHB"
VERSION = 1


def encode(
    *,
    cluster: str,
    node: str,
    key: bytes,
    incarnation: int = 1,
    seq: int = 1,
    role: int = 0,
    priority: int = 100,
    flags: int = 0,
    term: int = 0,
    remaining_ms: int = 0,
    version: int = VERSION,
) -> bytes:
    body = MAGIC + struct.pack(
        ">BBBBQQqI", version, role, priority, flags, incarnation, seq, term, remaining_ms
    )
    for name in (cluster, node):
        raw = name.encode()
        body += bytes([len(raw)]) + raw
    return body + hmac.new(key, body, hashlib.sha256).digest()
