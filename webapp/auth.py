"""Who may press "terminate": credentials from files, never the repo or the environment.

Users file (``--users-file`` / ``AF_DASHBOARD_USERS_FILE``): one ``user:hash`` a line, the hash
in Werkzeug's PBKDF2 format (``pbkdf2:sha256:600000$salt$hex``; make one with
``python -m webapp hash-password``); blank lines and ``#`` comments are ignored. Or one user's
plain password in a file (``--password-file``, its first line; hashed at start) for ``--user``
(default ``admin``). A password in the environment is refused: it would be visible in
/proc/PID/environ to the same user and inherited by every child process.

Checks run in constant time for a given user list: the password is always verified against a
hash (a dummy one for an unknown user) and compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

HASH_METHOD = "pbkdf2:sha256:600000"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=HASH_METHOD)


def parse_users(text: str, source: str = "users file") -> dict[str, str]:
    users: dict[str, str] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not user or not hashed.startswith("pbkdf2:"):
            raise ValueError(
                f"{source}:{n}: expected `user:pbkdf2:...` (python -m webapp hash-password makes one)"
            )
        users[user] = hashed
    return users


@dataclass
class Users:
    hashes: dict[str, str]
    _dummy: str = field(default_factory=lambda: hash_password(secrets.token_hex(16)))

    @classmethod
    def load(
        cls,
        users_file: Path | None,
        password_file: Path | None = None,
        user: str = "admin",
        env: dict[str, str] | None = None,
    ) -> Users:
        env = dict(os.environ) if env is None else env
        if env.get("AF_DASHBOARD_PASSWORD"):
            raise ValueError(
                "AF_DASHBOARD_PASSWORD is no longer read: put the password in a file only "
                "the dashboard's user can read and pass --password-file FILE"
            )
        hashes: dict[str, str] = {}
        if users_file is not None:
            hashes.update(parse_users(users_file.read_text(encoding="utf-8"), str(users_file)))
        if password_file is not None:
            lines = password_file.read_text(encoding="utf-8").splitlines()
            password = lines[0] if lines else ""
            if not password:
                raise ValueError(f"{password_file}: empty; the first line is the password")
            if ":" in user or not user:
                raise ValueError(f"--user: not a user name: {user!r}")
            hashes[user] = hash_password(password)
        return cls(hashes)

    @property
    def enabled(self) -> bool:
        return bool(self.hashes)

    def check(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s; about the same time whether the user exists."""
        found: str | None = None
        for name, hashed in self.hashes.items():  # no early exit on the name
            if hmac.compare_digest(name.encode(), user.encode()):
                found = hashed
        ok = check_password_hash(found or self._dummy, password)  # compare_digest inside
        return ok and found is not None


class Throttle:
    """At most ``limit`` failed logins per ``window_s`` per client address.

    A login takes a slot *before* its password is checked (``begin``) and gives it back only
    if the password was right (``succeeded``), both under one lock: parallel guesses cannot
    all pass a check that none of them has recorded yet."""

    def __init__(self, limit: int = 10, window_s: float = 300.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}
        self._next_prune = 0.0
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        self._prune(now)
        q = self._fails.setdefault(key, deque())
        while q and q[0] < now - self.window_s:
            q.popleft()
        return q

    def _prune(self, now: float) -> None:
        # Every address that ever failed once kept its entry: a client cycling through
        # addresses (IPv6 gives it plenty) grew the table without end. Forget the expired ones,
        # at most once per window's tenth so a login stays O(1) on average.
        if now < self._next_prune:
            return
        self._next_prune = now + self.window_s / 10
        cutoff = now - self.window_s
        for key in [k for k, q in self._fails.items() if not q or q[-1] < cutoff]:
            del self._fails[key]

    def __len__(self) -> int:
        """How many client addresses the table holds (for tests and metrics)."""
        with self._lock:
            return len(self._fails)

    def allowed(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) < self.limit

    def begin(self, key: str) -> bool:
        """Takes a slot for one attempt; False (and nothing taken) when none is left."""
        with self._lock:
            now = time.monotonic()
            q = self._recent(key, now)
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True

    def succeeded(self, key: str) -> None:
        """The attempt's password was right: it was not a failure."""
        with self._lock:
            q = self._fails.get(key)
            if q:
                q.pop()


def attempt_login(users: Users, throttle: Throttle, key: str, user: str, password: str) -> str:
    """ "ok", "wrong" or "throttled"; the password is checked only within the budget."""
    if not throttle.begin(key):
        return "throttled"
    if users.enabled and users.check(user, password):
        throttle.succeeded(key)
        return "ok"
    return "wrong"
