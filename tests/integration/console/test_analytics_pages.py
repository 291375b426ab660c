"""The analyst's console pages over HTTP: each shows its charts (SVG drawn on the server)
and tables over the demo's history, its CSV download parses, and other roles are refused."""

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Role
from omnikanal.uow import unit_of_work
from tests.factories import demo_login, sign_in

PAGES = [
    "/console/analytics",
    "/console/analytics/rooming",
    "/console/analytics/paths",
    "/console/analytics/cohorts",
    "/console/analytics/clv",
    "/console/analytics/satisfaction",
]


@pytest.fixture
def shop_with_history(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session, history=True)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.usefixtures("shop_with_history")
def test_an_analyst_sees_every_page_with_charts_and_downloads_each_table(
    client: TestClient,
) -> None:
    sign_in(client, demo_login(Role.ANALYST))
    home = client.get("/console")
    assert 'href="/console/analytics"' in home.text
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<svg" in page.text, path
        assert "No data yet" not in page.text.split("<svg", 1)[1].split("</svg>", 1)[0], path
        assert "http://www.w3.org/2000/svg" in page.text
        # Nothing is fetched from elsewhere: no script but the console's own file (which
        # disables a form's button while it is sent), no outside images.
        scripts = re.findall(r"<script[^>]*>", page.text)
        assert all(re.search(r'src="[^"]*/console/static/console\.js"', s) for s in scripts)
        assert "<img" not in page.text
        download = client.get(path, params={"format": "csv"})
        assert download.status_code == 200, path
        assert download.headers["content-type"].startswith("text/csv")
        assert rows_of(download.text), path
    # The funnel's download holds the steps the page shows.
    params = {"step1": "Product Viewed", "channels1": "web", "step2": "order", "channels2": ""}
    page = client.get("/console/analytics", params=params)
    steps = rows_of(client.get("/console/analytics", params={**params, "format": "csv"}).text)
    assert [row["label"] for row in steps] == ["Product Viewed on web", "order"]
    first, second = steps
    assert int(first["entered"]) == int(first["reached"]) > 0
    assert 0 < int(second["reached"]) <= int(first["reached"])
    assert f"<td>{second['reached']}</td>" in page.text
    # The people who stalled become an audience for a campaign.
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text))
    saved = client.post("/console/analytics/stalled", data=fields)
    assert saved.status_code == 200
    assert re.search(r"Saved \d+ people who stalled before step 2 as the audience", saved.text)
    # A forged post (its own one-time token, a wrong CSRF token) is refused.
    forged = {**fields, "csrf_token": "x", "form_token": "another-form"}
    assert client.post("/console/analytics/stalled", data=forged).status_code == 403
    bad = client.get("/console/analytics", params={"days2": "0"})
    assert bad.status_code == 422
    assert "days2" in bad.text


def test_store_staff_and_agents_are_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session)
    for role in (Role.STORE, Role.AGENT):
        client.cookies.clear()
        sign_in(client, demo_login(role))
        assert 'href="/console/analytics"' not in client.get("/console").text
        for path in PAGES:
            assert client.get(path).status_code == 403, path
            assert client.get(path, params={"format": "csv"}).status_code == 403, path
