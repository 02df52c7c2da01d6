"""docs/deploy.md's tags are well-formed (fast; the guide itself runs in test_deploy_guide.py):
every tag names a known place and sits right before its block, and the guide covers the steps
the deploy test relies on."""

from __future__ import annotations

import pytest

from tests.deploy import guide


def test_the_guide_has_runnable_steps_for_each_place() -> None:
    steps = guide.steps()
    assert {s.where for s in steps} == {"host-a", "host-b", "both", "db", "copy"}
    assert all(s.lang == "sql" for s in steps if s.where == "db")
    assert all(s.lang == "sh" for s in steps if s.where in ("host-a", "host-b", "both"))
    text = "\n".join(s.text for s in steps)
    for needed in ("dpkg -i", "pgpass", "check-config", "systemctl enable --now", "airflow-failover status"):
        assert needed in text, needed


def test_a_misplaced_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="right before"):
        guide.steps("<!-- deploy-test: host-a -->\nsome prose\n```sh\ntrue\n```\n")
    with pytest.raises(ValueError, match="unknown tag"):
        guide.steps("<!-- deploy-test: host-c -->\n```sh\ntrue\n```\n")
