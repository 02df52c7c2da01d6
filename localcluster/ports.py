"""Free loopback ports for the servers the harness, the tests and the benches start.

The kernel picks a port that is free now; the socket is closed before the caller binds it, so
another process may take it in between. That race is accepted: it is rare, and a taken port
makes the server fail to start with a clear error rather than pass silently."""

from __future__ import annotations

import socket


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_tcp_port() -> int:
    return _free_port(socket.SOCK_STREAM)


def free_tcp_ports(count: int) -> list[int]:
    """`count` distinct TCP ports: the sockets are held open together, so the kernel cannot
    hand out one number twice (separate free_tcp_port() calls can)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def free_udp_port() -> int:
    return _free_port(socket.SOCK_DGRAM)
