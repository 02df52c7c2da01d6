#!/usr/bin/env python3
"""Loss and delay jitter in user space, for kernels without `tc netem` (CONFIG_NET_SCH_NETEM off).

Run inside a host's network namespace with an iptables rule that queues its egress:

    iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass
    nfq_delay.py --queue 0 --loss 0.05 --delay-ms 100 --jitter-ms 100 --stats FILE

Speaks the kernel's nfnetlink_queue protocol directly over an AF_NETLINK socket (no library):
binds the queue in copy-meta mode (no payload is copied), and for every packet either drops it
(probability --loss) or accepts it after a delay drawn uniformly from delay ± jitter (clamped at
0), which is what `netem delay D J loss L%` does. Verdicts may be given out of order, so packets
are reordered as netem with jitter reorders them. Prints "ready" once bound; on SIGTERM writes
{"packets", "dropped", "delayed"} to --stats and exits. If it dies, `--queue-bypass` lets
traffic through unimpaired (never a black hole), and the missing stats file shows it.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQA_CFG_F_FAIL_OPEN = 1
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_DROP = 0
NF_ACCEPT = 1
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * ((4 - length % 4) % 4)


class Queue:
    def __init__(self, num: int) -> None:
        self.num = num
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind((0, 0))
        self.seq = 0

    def _send(self, msg_type: int, attrs: bytes, flags: int = NLM_F_REQUEST) -> None:
        self.seq += 1
        nfgen = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(self.num))
        body = nfgen + attrs
        hdr = struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self.seq, 0)
        self.sock.send(hdr + body)

    def _ack(self) -> None:
        data = self.sock.recv(65536)
        _length, kind = struct.unpack_from("=IH", data, 0)
        if kind == NLMSG_ERROR:
            (err,) = struct.unpack_from("=i", data, 16)
            if err != 0:
                raise OSError(-err, f"nfnetlink_queue config refused: errno {-err}")

    def bind(self) -> None:
        self._send(
            NFQNL_MSG_CONFIG,
            _attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, 0)),
            NLM_F_REQUEST | NLM_F_ACK,
        )
        self._ack()
        attrs = (
            _attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))
            + _attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack("!I", 65536))
            + _attr(NFQA_CFG_FLAGS, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN))
            + _attr(NFQA_CFG_MASK, struct.pack("!I", NFQA_CFG_F_FAIL_OPEN))
        )
        self._send(NFQNL_MSG_CONFIG, attrs, NLM_F_REQUEST | NLM_F_ACK)
        self._ack()

    def verdict(self, packet_id: int, verdict: int) -> None:
        self._send(NFQNL_MSG_VERDICT, _attr(NFQA_VERDICT_HDR, struct.pack("!II", verdict, packet_id)))

    def packets(self) -> list[int]:
        """Reads what is waiting; returns the ids of queued packets."""
        ids: list[int] = []
        try:
            data = self.sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return ids
        except OSError:  # ENOBUFS: the kernel dropped messages; fail-open covers the packets
            return ids
        off = 0
        while off + 16 <= len(data):
            length, kind, _flags, _seq, _pid = struct.unpack_from("=IHHII", data, off)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                a = off + 16 + 4  # skip nfgenmsg
                end = off + length
                while a + 4 <= end:
                    alen, akind = struct.unpack_from("=HH", data, a)
                    if alen < 4:
                        break
                    if akind & 0x3FFF == NFQA_PACKET_HDR:
                        ids.append(struct.unpack_from("!I", data, a + 4)[0])
                    a += (alen + 3) & ~3
            off += (length + 3) & ~3
        return ids


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", type=int, default=0)
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--delay-ms", type=float, default=100)
    ap.add_argument("--jitter-ms", type=float, default=100)
    ap.add_argument("--stats")
    args = ap.parse_args()
    try:
        q = Queue(args.queue)
        q.bind()
    except OSError as e:
        print(f"cannot bind NFQUEUE {args.queue}: {e}", flush=True)
        return 1
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    rnd = random.Random()
    due: list[tuple[float, int]] = []
    stats = {"packets": 0, "dropped": 0, "delayed": 0}
    print("ready", flush=True)
    while not stop:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, pid = heapq.heappop(due)
            q.verdict(pid, NF_ACCEPT)
        timeout = max(0.0, due[0][0] - now) if due else 0.5
        try:
            ready, _, _ = select.select([q.sock], [], [], timeout)
        except InterruptedError:
            continue
        if not ready:
            continue
        for pid in q.packets():
            stats["packets"] += 1
            if rnd.random() < args.loss:
                stats["dropped"] += 1
                q.verdict(pid, NF_DROP)
                continue
            d = rnd.uniform(args.delay_ms - args.jitter_ms, args.delay_ms + args.jitter_ms)
            stats["delayed"] += 1
            heapq.heappush(due, (time.monotonic() + max(0.0, d) / 1000.0, pid))
    for _, pid in due:  # let the held packets go
        q.verdict(pid, NF_ACCEPT)
    if args.stats:
        with open(args.stats, "w", encoding="utf-8") as f:
            json.dump(stats, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
