"""The experiments pages over HTTP on the demo's reminder test: per variant with
intervals, the effect over time as SVG, start and stop for marketers, a warning when the
split is broken; other roles are refused."""

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Role
from omnikanal.experiments import service
from omnikanal.experiments.models import Experiment, Exposure
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work
from tests.factories import csrf_of, demo_login, sign_in


@pytest.fixture
def demo_with_history(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session, history=True)


@pytest.mark.usefixtures("demo_with_history")
def test_analyst_and_marketer_see_the_results(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.ANALYST))
    assert 'href="/console/experiments"' in client.get("/console").text
    listed = client.get("/console/experiments")
    assert listed.status_code == 200
    assert "Free delivery against 10 % off in the abandoned-cart email" in listed.text
    page = client.get("/console/experiments/reminder-offer")
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") == 2
    assert "Effect of free-delivery by day since the start" in page.text
    assert "Conversion (primary)" in page.text
    assert "Always valid" in page.text
    assert "Chance to beat control" in page.text
    assert 'id="srm-warning"' not in page.text
    assert "<form" not in page.text.split("Charts", 1)[0].split("The experiment", 1)[1]
    assert client.get("/console/experiments/nope").status_code == 404

    # Break the split: many more exposures of one variant. The page warns.
    with unit_of_work(session_factory) as session:
        experiment = session.scalars(select(Experiment)).one()
        session.add_all(
            Exposure(
                experiment_id=experiment.id,
                variant="free-delivery",
                anonymous_id=f"extra-{n}",
                exposed_at=utcnow(),
            )
            for n in range(300)
        )
    warned = client.get("/console/experiments/reminder-offer")
    assert 'id="srm-warning"' in warned.text
    assert "Sample ratio mismatch" in warned.text

    client.cookies.clear()
    sign_in(client, demo_login(Role.MARKETER))
    page = client.get("/console/experiments/reminder-offer")
    stop = re.search(r'action="(/console/experiments/reminder-offer/stop)"', page.text)
    assert stop
    form_token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert form_token
    stopped = client.post(
        stop.group(1),
        data={"csrf_token": csrf_of(page.text), "form_token": form_token.group(1)},
        follow_redirects=True,
    )
    assert stopped.status_code == 200
    assert "The experiment is stopped." in stopped.text
    assert '<span class="tag" id="experiment-status">stopped</span>' in stopped.text


def test_store_staff_and_agents_are_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session)
    for role in (Role.STORE, Role.AGENT):
        client.cookies.clear()
        sign_in(client, demo_login(role))
        assert 'href="/console/experiments"' not in client.get("/console").text
        assert client.get("/console/experiments").status_code == 403


def test_an_experiment_without_data_shows_its_empty_results(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session)
        service.create(
            session,
            fields={
                "key": "till-offer",
                "name": "Till offer",
                "unit": "store",
                "variants": [{"key": "a", "weight": 1}, {"key": "b", "weight": 1}],
                "metric": "revenue",
                "guardrails": ["aov"],
                "window_days": 7,
            },
        )
    sign_in(client, demo_login(Role.ANALYST))
    page = client.get("/console/experiments/till-offer")
    assert page.status_code == 200, page.text
    assert "No data yet" in page.text
    assert "each store" in page.text
