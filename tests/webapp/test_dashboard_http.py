"""The dashboard's HTTP surface, in process: the server refuses terminate without a login even
when the browser side is bypassed and the callback is forged."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.webapp.dashboard_harness import TEST_PASSWORD, TEST_USER, commands
from webapp.app import create_app
from webapp.auth import Users, hash_password
from webapp.db import Pool
from webapp.settings import Settings

TERMINATE_OUTPUTS = [
    ("terminate-dialog", "style"),
    ("terminate-text", "children"),
    ("terminate-target", "data"),
    ("terminate-result", "children"),
]
LOGIN_OUTPUTS = [
    ("login-modal", "style"),
    ("login-error", "children"),
    ("auth", "data"),
    ("login-password", "value"),
]


def callback(
    client: Any,
    outputs: list[tuple[str, str]],
    inputs: list[tuple[str, str, Any]],
    state: list[tuple[str, str, Any]],
    changed: str,
) -> dict[str, Any]:
    body = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [changed],
    }
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code in (200, 204), r.data
    return dict(r.get_json()["response"]) if r.status_code == 200 else {}


def confirm(client: Any, holder: str, term: int) -> dict[str, Any]:
    return callback(
        client,
        TERMINATE_OUTPUTS,
        [("terminate-open", "n_clicks", 1), ("terminate-cancel", "n_clicks", 0),
         ("terminate-confirm", "n_clicks", 1)],
        [("panel", "data", {"active": holder, "term": term}),
         ("terminate-target", "data", {"holder": holder, "term": term})],
        "terminate-confirm.n_clicks",
    )  # fmt: skip


def login(client: Any, user: str, password: str) -> dict[str, Any]:
    return callback(
        client,
        LOGIN_OUTPUTS,
        [("login-open", "n_clicks", 1), ("login-cancel", "n_clicks", 0),
         ("login-submit", "n_clicks", 1), ("login-password", "n_submit", 0),
         ("logout", "n_clicks", 0)],
        [("login-user", "value", user), ("login-password", "value", password)],
        "login-submit.n_clicks",
    )  # fmt: skip


@pytest.fixture
def client(pg: PgServer, dashboard_role: str, shared_cluster: Cluster) -> Iterator[Any]:
    s = Settings(conninfo=pg.conninfo(user=dashboard_role), cluster=shared_cluster.name)
    pool = Pool(s.conninfo, size=1)
    app = create_app(s, users=Users({TEST_USER: hash_password(TEST_PASSWORD)}), pool=pool)
    try:
        yield app.server.test_client()
    finally:
        pool.close()


def test_page_and_layout(client: Any) -> None:
    r = client.get("/")
    assert r.status_code == 200 and b"airflow-failover" in r.data
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert TEST_PASSWORD not in layout and "pbkdf2" not in layout


def test_forged_terminate_without_login_is_refused(
    pg: PgServer, client: Any, shared_cluster: Cluster
) -> None:
    st = shared_cluster.status()
    out = confirm(client, st["active"], st["term"])
    assert out["terminate-result"]["children"] == "log in first"
    assert commands(pg, shared_cluster.name) == []
    # a wrong password does not open the door either
    assert login(client, TEST_USER, "nope")["login-error"]["children"] == "wrong user or password"
    assert confirm(client, st["active"], st["term"])["terminate-result"]["children"] == ("log in first")
    assert commands(pg, shared_cluster.name) == []


def test_logged_in_confirm_for_a_stale_view_is_not_sent(
    pg: PgServer, client: Any, shared_cluster: Cluster
) -> None:
    st = shared_cluster.status()
    assert login(client, TEST_USER, TEST_PASSWORD)["auth"]["data"] == {"user": TEST_USER}
    out = confirm(client, st["active"], st["term"] - 1)  # the user saw an older term
    assert out["terminate-result"]["children"].startswith("not sent")
    out = confirm(client, "node-z", st["term"])
    assert out["terminate-result"]["children"].startswith("not sent")
    assert commands(pg, shared_cluster.name) == []


def make_app(pg: PgServer, role: str, cluster: str, **settings: Any) -> Any:
    s = Settings(conninfo=pg.conninfo(user=role), cluster=cluster, **settings)
    pool = Pool(s.conninfo, size=1)
    return create_app(s, users=Users({TEST_USER: hash_password(TEST_PASSWORD)}), pool=pool)


def login_error(client: Any, password: str) -> str:
    return str(login(client, TEST_USER, password)["login-error"]["children"])


def test_parallel_logins_get_no_more_guesses_than_the_limit(
    pg: PgServer, dashboard_role: str, shared_cluster: Cluster
) -> None:
    """Attack: 40 guesses at once from one address, through the real login callback on the
    threaded server. The throttle allows 10 failed logins per 5 minutes."""
    app = make_app(pg, dashboard_role, shared_cluster.name)
    try:
        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = list(pool.map(lambda i: login_error(app.server.test_client(), f"guess-{i}"), range(40)))
        assert answers.count("wrong user or password") == 10, answers
        assert answers.count("too many failed logins; wait a few minutes") == 30
    finally:
        app.server.extensions["af_dashboard"]["pool"].close()


def test_trusted_proxy_keys_the_throttle_on_the_forwarded_client(
    pg: PgServer, dashboard_role: str, shared_cluster: Cluster
) -> None:
    def burn(app: Any, forwarded_for: str) -> str:
        client = app.server.test_client()
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
        client.environ_base["REMOTE_ADDR"] = "10.9.9.9"  # the proxy
        return [login_error(client, "bad") for _ in range(11)][-1]

    behind = make_app(pg, dashboard_role, shared_cluster.name, trust_proxy=1)
    direct = make_app(pg, dashboard_role, shared_cluster.name)
    try:
        # Behind the proxy: each client has its own budget.
        assert burn(behind, "203.0.113.1").startswith("too many")
        assert login_error(_forwarded(behind, "203.0.113.2"), "bad") == "wrong user or password"
        # Not trusted: the header is ignored (anyone can send it), the proxy's address counts.
        assert burn(direct, "203.0.113.1").startswith("too many")
        assert login_error(_forwarded(direct, "203.0.113.2"), "bad").startswith("too many")
    finally:
        for a in (behind, direct):
            a.server.extensions["af_dashboard"]["pool"].close()


def _forwarded(app: Any, addr: str) -> Any:
    client = app.server.test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = addr
    client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    return client


def test_session_cookie_is_secure_when_asked(
    pg: PgServer, dashboard_role: str, shared_cluster: Cluster
) -> None:
    for secure in (True, False):
        app = make_app(pg, dashboard_role, shared_cluster.name, secure_cookies=secure)
        try:
            client = app.server.test_client()
            login(client, TEST_USER, TEST_PASSWORD)
            cookie = client.get_cookie("session")
            assert cookie is not None and cookie.secure is secure
            assert cookie.http_only and cookie.same_site == "Strict"
        finally:
            app.server.extensions["af_dashboard"]["pool"].close()
