"""Log priorities journald understands: when the daemon's stderr is the stream systemd's
JOURNAL_STREAM names (device:inode), every line starts with an sd-daemon priority prefix, which
journald's stream reader (SyslogLevelPrefix=, on by default) turns into the entry's PRIORITY:
`journalctl -p warning` then shows the warnings. journald does not run here, so the test plays
its part: the daemon's stderr is one end of a Unix stream socket, as under systemd, and the test
reads the lines journald would parse. A stream JOURNAL_STREAM does not name gets plain lines."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcluster.cluster import Cluster, daemon_binary
from localcluster.pgserver import PgServer


class Stream:
    """The daemon's stdout and stderr as journald would hold them: a stream socket, read by a
    thread so the daemon never blocks on a full buffer."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        st = os.fstat(self.theirs.fileno())
        self.journal_stream = f"{st.st_dev}:{st.st_ino}"
        self.data = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while chunk := self.ours.recv(65536):
            self.data += chunk

    def lines(self) -> list[str]:
        return self.data.decode(errors="replace").splitlines()

    def wait_line(self, part: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines() if part in line]
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no line with {part!r} in:\n" + "\n".join(self.lines()))


@pytest.fixture
def one_node(pg: PgServer, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(pg, tmp_path / "cluster", size=1)
    try:
        yield c
    finally:
        c.stop_all()


def start(c: Cluster, stream: Stream, journal_stream: str) -> None:
    node = c.nodes["node-a"]
    env = dict(c.daemon_env if c.daemon_env is not None else os.environ, JOURNAL_STREAM=journal_stream)
    node.proc = subprocess.Popen(
        [str(daemon_binary()), "run", "--config", str(node.config)],
        env=env,
        stdout=stream.theirs.fileno(),
        stderr=stream.theirs.fileno(),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    stream.theirs.close()


def test_a_warning_goes_to_the_journal_at_priority_4(one_node: Cluster) -> None:
    c = one_node
    stream = Stream()
    start(c, stream, stream.journal_stream)
    c.wait_active()
    c.signal("node-a", signal.SIGSTOP)
    time.sleep(0.2)
    c.signal("node-a", signal.SIGCONT)
    warning = stream.wait_line("resumed after being stopped")
    assert warning == "<4>warning [node-a] resumed after being stopped (SIGCONT)"
    assert stream.wait_line("became_active").startswith("<6>info [node-a] became_active: ")
    lines = stream.lines()
    # Every line the daemon itself writes carries a priority (managed processes write their own).
    own = [line for line in lines if "[node-a]" in line]
    assert own and all(line[:3] in {"<2>", "<3>", "<4>", "<6>", "<7>"} for line in own), own


def test_a_stream_journal_stream_does_not_name_gets_plain_lines(one_node: Cluster) -> None:
    # Inherited JOURNAL_STREAM, stderr elsewhere (a shell redirect): no prefixes in a file.
    c = one_node
    stream = Stream()
    start(c, stream, "1:1")
    line = stream.wait_line("became_active")
    assert line[0].isdigit() and " info [node-a] became_active: " in line, line
