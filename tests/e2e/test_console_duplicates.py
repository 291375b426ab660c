"""Possible duplicates in a real browser: an agent accepts one pair (after a confirmation:
a probabilistic merge in the merge log) and rejects another, which a recompute does not
bring back (S1, S15)."""

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel, Role
from tests.e2e.test_console_browser import page, photograph, sign_in
from tests.factories import basic, bearer, create_secret_key, create_source, create_staff_account

__all__ = ["page"]  # the fixture, shared with the other console tests


def _person(key: str, first: str, last: str, street: str, postcode: str, city: str) -> Any:
    return {
        "anonymousId": f"crm-{key}",
        "traits": {
            "email": f"{key}@example.com",
            "first_name": first,
            "last_name": last,
            "address": {"street": street, "postalCode": postcode, "city": city},
        },
    }


PEOPLE = [
    _person("anna.svensson", "Anna", "Svensson", "Storgatan 1", "753 20", "Uppsala"),
    _person("svenson.a", "Ana", "Svenson", "Storgt. 1", "75320", "Uppsala"),
    _person("karin", "Karin", "Holm", "Sveavägen 88", "113 59", "Stockholm"),
    _person("kholm", "Karin", "Holm", "Sveavägen 88", "11359", "Stockholm"),
    _person("erik", "Erik", "Lindqvist", "Kungsgatan 12", "111 43", "Stockholm"),
]


def test_an_agent_accepts_one_pair_and_rejects_another(
    live_server: str, page: Any, session_factory: sessionmaker[Session]
) -> None:
    write_key = create_source(session_factory, channel=Channel.WEB, name="CRM")
    admin = bearer(create_secret_key(session_factory, role=Role.ADMIN))
    agent_key = bearer(create_secret_key(session_factory, role=Role.AGENT))
    now = datetime.now(UTC).isoformat()
    with httpx.Client(base_url=live_server, timeout=60) as http:
        for body in PEOPLE:
            sent = http.post(
                "/v1/identify", json={**body, "timestamp": now}, headers=basic(write_key)
            )
            assert sent.status_code == 200, sent.text
        # Everyone placed before the computation: a read after the last position waits.
        position = {"Omnikanal-Position": sent.headers["Omnikanal-Position"]}
        waited = http.get(
            "/v1/profiles", params={"anonymous_id": "crm-erik"}, headers={**agent_key, **position}
        )
        assert len(waited.json()["items"]) == 1
        computed = http.post("/v1/profiles/duplicates/compute", headers=admin)
        assert computed.status_code == 200, computed.text
        assert computed.json()["added"] == 2

        def profile_of(key: str) -> str:
            found = http.get(
                "/v1/profiles", params={"email": f"{key}@example.com"}, headers=agent_key
            )
            profile_id: str = found.json()["items"][0]["id"]
            return profile_id

        anna, ana = profile_of("anna.svensson"), profile_of("svenson.a")

        sign_in(page, live_server, create_staff_account(session_factory, role=Role.AGENT))
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Possible duplicates").click()
        page.wait_for_url(f"{live_server}/console/duplicates")
        pairs = page.locator("section.duplicate")
        assert pairs.count() == 2
        svensson = pairs.filter(has_text="Ana Svenson")
        assert "% likely the same person" in svensson.get_by_role("heading").inner_text()
        # What agreed is marked: the names (typed differently), the city; not the emails.
        assert svensson.locator("tr.agreed", has_text="Name").count() == 1
        assert svensson.locator("tr.agreed", has_text="City").count() == 1
        assert svensson.locator("tr.agreed", has_text="Email").count() == 0
        photograph(page, "console-duplicates.png")

        svensson.get_by_role("link", name="Accept…").click()
        assert page.get_by_role("heading", name="Merge these two?").is_visible()
        page.get_by_role("button", name="Merge them").click()
        page.wait_for_url(f"{live_server}/console/duplicates?*")
        assert page.get_by_role("status").inner_text().startswith("Merged: profile ")
        assert pairs.count() == 1

        log = http.get(f"/v1/profiles/{anna}/merges", headers=agent_key).json()
        assert log[0]["action"] == "merged"
        assert log[0]["other_profile_id"] == ana
        assert log[0]["rule"].startswith("probabilistic")
        assert "console" in log[0]["actor"]

        pairs.filter(has_text="Karin Holm").get_by_role("button", name="Reject").click()
        page.wait_for_url(f"{live_server}/console/duplicates?*")
        assert "not be suggested again" in page.get_by_role("status").inner_text()
        assert pairs.count() == 0

        again = http.post("/v1/profiles/duplicates/compute", headers=admin)
        assert again.status_code == 200, again.text
        assert again.json()["added"] == 0
        page.goto(f"{live_server}/console/duplicates")
        assert "No possible duplicates are waiting." in page.content()
        rejected = http.get(
            "/v1/profiles/duplicates", params={"status": "rejected"}, headers=agent_key
        ).json()["items"]
        assert [s["profile"]["name"] for s in rejected] == ["Karin Holm"]
