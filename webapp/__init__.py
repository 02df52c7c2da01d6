"""airflow-failover dashboard: live cluster status, failover timeline, Xetra price charts and a
login-guarded "terminate active scheduler" button. Run ``python -m webapp --help``."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:  # keep `import webapp` light (no Dash import)
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
