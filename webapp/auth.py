"""Who may press "terminate": credentials from a users file or the environment, never the repo.

Users file (``--users-file`` / ``AF_DASHBOARD_USERS_FILE``): one ``user:hash`` a line, the hash
in Werkzeug's PBKDF2 format (``pbkdf2:sha256:600000$salt$hex``; make one with
``python -m webapp hash-password``); blank lines and ``#`` comments are ignored. Or one user from
the environment: ``AF_DASHBOARD_PASSWORD`` (plain, hashed at start and then dropped from the
process environment) with ``AF_DASHBOARD_USER`` (default ``admin``).

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
                f"{source}:{n}: expected `user:pbkdf2:...` (python -m webapp "
                "hash-password makes one)"
            )
        users[user] = hashed
    return users


@dataclass
class Users:
    hashes: dict[str, str]
    _dummy: str = field(default_factory=lambda: hash_password(secrets.token_hex(16)))

    @classmethod
    def load(cls, users_file: Path | None, env: dict[str, str] | None = None) -> Users:
        env = dict(os.environ) if env is None else env
        hashes: dict[str, str] = {}
        if users_file is not None:
            hashes.update(
                parse_users(users_file.read_text(encoding="utf-8"), str(users_file))
            )
        password = env.get("AF_DASHBOARD_PASSWORD")
        if password:
            hashes[env.get("AF_DASHBOARD_USER") or "admin"] = hash_password(password)
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
        ok = check_password_hash(
            found or self._dummy, password
        )  # compare_digest inside
        return ok and found is not None


class Throttle:
    """At most ``limit`` failed logins per ``window_s`` per client address."""

    def __init__(self, limit: int = 10, window_s: float = 300.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._fails.setdefault(key, deque())
        while q and q[0] < now - self.window_s:
            q.popleft()
        return q

    def allowed(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) < self.limit

    def failed(self, key: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(key, now).append(now)
