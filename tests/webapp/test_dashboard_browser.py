"""The dashboard in headless Debian chromium against real daemons: the page shows the active
node `airflow-failover status --json` reports; loading it changes nothing; logging in, pressing
terminate and confirming makes another node active. Screenshots go to build/artifacts/dashboard/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer
from tests.support.helpers import sql_rows
from tests.webapp.dashboard_harness import TEST_PASSWORD, TEST_USER, Dashboard, commands


def text_of(drv: WebDriver, id_: str) -> str:
    return str(drv.find_element(By.ID, id_).text)


def wait_text(drv: WebDriver, id_: str, pred: Callable[[str], bool], timeout: float = 20) -> str:
    seen: list[str] = []

    def check(d: WebDriver) -> str | None:
        try:
            t = text_of(d, id_)
        except (NoSuchElementException, StaleElementReferenceException):  # re-rendered
            return None
        seen[:] = [t]
        return t if pred(t) else None

    try:
        return str(WebDriverWait(drv, timeout, poll_frequency=0.1).until(check))
    except TimeoutException:
        raise AssertionError(
            f"#{id_} did not show what was awaited within {timeout} s; last seen: {seen!r}"
        ) from None


def shot(drv: WebDriver, artifacts: Path, name: str) -> None:
    drv.save_screenshot(str(artifacts / f"{name}.png"))


def terminate_events(pg: PgServer, cluster: str) -> list[tuple[Any, ...]]:
    return sql_rows(
        pg,
        "SELECT node_id, term, detail FROM airflow_failover.events"
        " WHERE cluster = %s AND kind = 'terminate_requested' ORDER BY id",
        cluster,
    )


def test_loading_the_page_changes_nothing(
    pg: PgServer,
    cluster: Cluster,
    dashboard_role: str,
    start_dashboard: Callable[..., Dashboard],
    browser: WebDriver,
    artifacts: Path,
) -> None:
    before = cluster.status()
    dash = start_dashboard(pg.conninfo(user=dashboard_role), cluster.name)
    for _ in range(3):  # load, then reload twice
        browser.get(dash.url)
        wait_text(browser, "active-node", lambda t: t == before["active"])
        wait_text(browser, "takeovers", lambda t: before["active"] in t)
        time.sleep(1.5)  # several panel refreshes
    shot(browser, artifacts, "01-loaded-no-click")
    assert not browser.find_element(By.ID, "terminate-open").is_enabled()
    assert not browser.find_element(By.ID, "terminate-dialog").is_displayed()
    after = cluster.status()
    assert commands(pg, cluster.name) == []
    assert terminate_events(pg, cluster.name) == []
    assert (after["active"], after["term"]) == (before["active"], before["term"])
    assert [i.node for i in cluster.live_instances()] == [before["active"]]
    assert "terminate requested" not in dash.output()


def test_login_terminate_confirm_fails_over(
    pg: PgServer,
    cluster: Cluster,
    dashboard_role: str,
    start_dashboard: Callable[..., Dashboard],
    browser: WebDriver,
    artifacts: Path,
) -> None:
    status = cluster.status()
    first, term = status["active"], status["term"]
    dash = start_dashboard(pg.conninfo(user=dashboard_role), cluster.name)
    browser.get(dash.url)
    shown = wait_text(browser, "active-node", lambda t: t == first)
    assert shown == cluster.status()["active"]
    # The panel re-renders every second: read through wait_text, which retries a stale element.
    wait_text(browser, "active-term", lambda t: t == str(term))
    wait_text(browser, "takeovers", lambda t: first in t)
    shot(browser, artifacts, "02-active-matches-status")
    terminate = browser.find_element(By.ID, "terminate-open")
    assert not terminate.is_enabled()

    wait = WebDriverWait(browser, 20, poll_frequency=0.1)
    # A wrong password is refused.
    browser.find_element(By.ID, "login-open").click()
    wait.until(ec.visibility_of_element_located((By.ID, "login-user"))).send_keys(TEST_USER)
    browser.find_element(By.ID, "login-password").send_keys("wrong")
    browser.find_element(By.ID, "login-submit").click()
    wait_text(browser, "login-error", lambda t: "wrong" in t)
    assert not terminate.is_enabled()
    # The right one logs in.
    pw = browser.find_element(By.ID, "login-password")
    pw.clear()
    pw.send_keys(TEST_PASSWORD)
    browser.find_element(By.ID, "login-submit").click()
    wait_text(browser, "login-status", lambda t: t == f"signed in as {TEST_USER}")
    wait.until(ec.element_to_be_clickable((By.ID, "terminate-open")))
    assert commands(pg, cluster.name) == []

    # Cancel first: nothing is sent.
    browser.find_element(By.ID, "terminate-open").click()
    wait.until(ec.visibility_of_element_located((By.ID, "terminate-dialog")))
    browser.find_element(By.ID, "terminate-cancel").click()
    wait.until(ec.invisibility_of_element_located((By.ID, "terminate-dialog")))
    assert commands(pg, cluster.name) == []

    # Then for real.
    browser.find_element(By.ID, "terminate-open").click()
    dialog = wait.until(ec.visibility_of_element_located((By.ID, "terminate-dialog")))
    assert first in dialog.text and f"term {term}" in dialog.text
    shot(browser, artifacts, "03-confirm-dialog")
    browser.find_element(By.ID, "terminate-confirm").click()
    wait_text(browser, "terminate-result", lambda t: t.startswith("sent"))
    (cmd,) = commands(pg, cluster.name)
    assert (cmd["kind"], cmd["target"], cmd["requested_by"]) == (
        "terminate",
        None,
        f"dashboard:{TEST_USER}",
    )

    # The daemon executes it: another node becomes active, in the page and in `status`.
    second = wait_text(browser, "active-node", lambda t: t not in (first, "none", ""), 30)
    shot(browser, artifacts, "04-after-failover")
    assert cluster.wait_active(other_than=first) == second
    assert cluster.status()["term"] > term
    cluster.assert_no_overlap()
    events = terminate_events(pg, cluster.name)
    assert [(n, t) for n, t, _ in events] == [(first, term)]
    assert f"dashboard:{TEST_USER}" in events[0][2]
    done = cluster.wait_for(
        lambda: [c for c in commands(pg, cluster.name) if c["done_at"] is not None],
        10,
        "the command row to be marked done",
    )
    assert done[0]["taken_by"] == first and done[0]["taken_at"] is not None
    # The timeline shows the takeover with its measured gap.
    row = wait_text(browser, "takeovers", lambda t: second in t and "terminate" in t)
    assert " after " in row
    time.sleep(1)
    shot(browser, artifacts, "05-timeline")


def test_pause_banner_names_the_reason_and_who_paused(
    pg: PgServer,
    cluster: Cluster,
    dashboard_role: str,
    start_dashboard: Callable[..., Dashboard],
    browser: WebDriver,
    artifacts: Path,
) -> None:
    """Maintenance mode (issue 17): `airflow-failover pause` shows a banner with the reason and
    who paused, through the least-privilege role; `resume` takes it away."""
    dash = start_dashboard(pg.conninfo(user=dashboard_role), cluster.name)
    browser.get(dash.url)
    wait_text(browser, "active-node", lambda t: t == cluster.status()["active"])
    assert not browser.find_element(By.ID, "pause-banner").is_displayed()
    res = cluster.cli("pause", "--reason", "deploy Airflow 3.3.2", "--expires", "30m")
    assert res.returncode == 0, res.stderr
    banner = wait_text(browser, "pause-banner", lambda t: "MAINTENANCE MODE" in t)
    assert "deploy Airflow 3.3.2" in banner and "paused by cli:" in banner, banner
    assert "until resume or" in banner, banner
    assert "NO ACTIVE NODE" not in banner
    shot(browser, artifacts, "06-pause-banner")
    assert cluster.cli("resume").returncode == 0
    WebDriverWait(browser, 20, poll_frequency=0.1).until(
        ec.invisibility_of_element_located((By.ID, "pause-banner"))
    )
    assert cluster.status()["paused"] is None
