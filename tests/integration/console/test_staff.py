"""Admins manage staff in the console: invite (the person chooses a password through the
link), change role and store, disable (signed out at once) and enable. Only admins may.
Every console answer says Cache-Control: no-store."""

import html
import re
from urllib.parse import urlsplit
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal import demo
from omnikanal.auth.models import Role, StaffAccount
from omnikanal.console.models import ConsoleSession
from omnikanal.uow import unit_of_work
from tests.factories import (
    StaffLogin,
    bearer,
    create_secret_key,
    create_staff_account,
    csrf_of,
    demo_login,
    sign_in,
)


@pytest.fixture
def shop(session_factory: sessionmaker[Session]) -> None:
    with unit_of_work(session_factory) as session:
        demo.load(session)


def account_of(factory: sessionmaker[Session], email: str) -> StaffAccount:
    with factory() as session:
        found = session.scalars(select(StaffAccount).where(StaffAccount.email == email)).one()
        session.expunge(found)
        return found


def invite(client: TestClient, **fields: str) -> tuple[int, str]:
    token = csrf_of(client.get("/console/staff").text)
    response = client.post("/console/staff/invite", data={**fields, "csrf_token": token})
    return response.status_code, response.text


@pytest.mark.usefixtures("shop")
def test_an_admin_invites_a_person_who_then_signs_in_under_their_name(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, demo_login(Role.ADMIN))
    home = client.get("/console")
    assert 'href="/console/staff"' in home.text
    listing = client.get("/console/staff")
    assert listing.status_code == 200
    for shown in ("Maja Lind", "agent@norrsken.example", "Oskar Nyström", "never"):
        assert shown in listing.text
    status, page = invite(
        client,
        name="Linnea Sjö",
        email="Linnea.Sjo@Norrsken.example",
        role="store",
        location="gbg-avenyn",
    )
    assert status == 200, page
    link = re.search(r'<code id="invitation-link">([^<]+)</code>', page)
    assert link is not None
    url = urlsplit(html.unescape(link.group(1)))
    assert url.path == "/console/invitation"
    # Shown once: the list does not show it again.
    assert "invitation-link" not in client.get("/console/staff").text
    invited = account_of(session_factory, "linnea.sjo@norrsken.example")
    assert (invited.role, invited.location, invited.password_hash) == ("store", "gbg-avenyn", None)
    client.cookies.clear()

    choose = client.get(f"/console/invitation?{url.query}")
    assert choose.status_code == 200
    assert "linnea.sjo@norrsken.example" in choose.text
    token = re.search(r'name="token" value="([^"]+)"', choose.text)
    assert token is not None
    short = client.post(
        "/console/invitation",
        data={"token": token.group(1), "password": "too short", "repeated": "too short"},
    )
    assert short.status_code == 422
    assert "A password has at least 12 characters." in short.text
    differ = client.post(
        "/console/invitation",
        data={"token": token.group(1), "password": "a long password", "repeated": "another one!"},
    )
    assert differ.status_code == 422
    assert "The two passwords differ" in differ.text
    accepted = client.post(
        "/console/invitation",
        data={
            "token": token.group(1),
            "password": "a long password",
            "repeated": "a long password",
        },
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert accepted.headers["location"].startswith("/console/signin?done=")
    # The link works once.
    assert client.get(f"/console/invitation?{url.query}").status_code == 404
    sign_in(client, StaffLogin(invited.id, "linnea.sjo@norrsken.example", "a long password", ""))
    store = client.get("/console/store")
    assert store.status_code == 200
    assert "Linnea Sjö" in store.text
    assert "Göteborg Avenyn" in store.text


@pytest.mark.usefixtures("shop")
def test_the_invite_form_shows_what_was_wrong_and_keeps_what_was_typed(
    client: TestClient,
) -> None:
    sign_in(client, demo_login(Role.ADMIN))
    for fields, message in (
        (
            {"name": "Nils", "email": "not-an-email", "role": "agent"},
            "Enter an email address like name@example.com.",
        ),
        (
            {"name": "Nils", "email": "AGENT@norrsken.example", "role": "agent"},
            "There is an account for agent@norrsken.example already.",
        ),
        (
            {"name": "Nils", "email": "nils@norrsken.example", "role": "store"},
            "Store staff belong to a store: choose one.",
        ),
        (
            {"name": "Nils", "email": "nils@x.example", "role": "store", "location": "wh-boras"},
            "Choose one of the stores.",
        ),
        (
            {"name": "Nils", "email": "nils@norrsken.example", "role": "channel"},
            "Choose one of the roles.",
        ),
        (
            {"name": " ", "email": "nils@norrsken.example", "role": "agent"},
            "Enter the person's name.",
        ),
    ):
        status, page = invite(client, **fields)
        assert status == 422, fields
        assert message in html.unescape(page), fields
        assert f'value="{html.escape(fields["email"])}"' in page
        # People read labels, not the form's field names.
        assert "body." not in page
        assert "location_required" not in page


@pytest.mark.usefixtures("shop")
def test_an_admin_changes_a_role_and_the_person_sees_it_at_their_next_page(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    person = create_staff_account(session_factory, role=Role.AGENT, name="Nils Ek")
    theirs = TestClient(client.app, raise_server_exceptions=False)
    sign_in(theirs, person)
    assert theirs.get("/console/inbox").status_code == 200
    sign_in(client, demo_login(Role.ADMIN))
    page = client.get(f"/console/staff/{person.id}")
    assert page.status_code == 200
    token = csrf_of(page.text)
    refused = client.post(
        f"/console/staff/{person.id}/role",
        data={"role": "store", "location": "", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "Store staff belong to a store: choose one." in refused.text
    changed = client.post(
        f"/console/staff/{person.id}/role",
        data={"role": "store", "location": "cph-stroget", "csrf_token": token},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert "Nils+Ek+is+now+store+at+cph-stroget" in changed.headers["location"]
    assert theirs.get("/console/inbox").status_code == 403
    assert "København" in theirs.get("/console/store").text


@pytest.mark.usefixtures("shop")
def test_disabling_a_person_signs_them_out_at_once_and_enabling_lets_them_back(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    person = create_staff_account(session_factory, role=Role.AGENT, name="Nils Ek")
    theirs = TestClient(client.app, raise_server_exceptions=False)
    sign_in(theirs, person)
    sign_in(client, demo_login(Role.ADMIN))
    confirm = client.get(f"/console/staff/{person.id}/disable")
    assert confirm.status_code == 200
    assert "Disable Nils Ek?" in confirm.text
    disabled = client.post(
        f"/console/staff/{person.id}/disable",
        data={"csrf_token": csrf_of(confirm.text)},
        follow_redirects=False,
    )
    assert disabled.status_code == 303
    assert theirs.get("/console", follow_redirects=False).status_code == 303
    with session_factory() as session:
        assert (
            session.scalars(
                select(ConsoleSession).where(ConsoleSession.staff_account_id == person.id)
            ).all()
            == []
        )
    page = client.get(f"/console/staff/{person.id}")
    assert "disabled" in page.text
    page_text = client.get("/console/staff").text
    assert re.search(r"Nils Ek</a></td>.*?<span class=\"tag\">disabled</span>", page_text, re.S)
    assert (
        theirs.post(
            "/console/signin",
            data={
                "email": person.email,
                "password": person.password,
                "csrf_token": csrf_of(theirs.get("/console/signin").text),
            },
        ).status_code
        == 401
    )
    enabled = client.post(
        f"/console/staff/{person.id}/enable",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert enabled.status_code == 303
    sign_in(theirs, person)


@pytest.mark.usefixtures("shop")
def test_an_admin_cannot_disable_themselves(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    admin = create_staff_account(session_factory, role=Role.ADMIN)
    sign_in(client, admin)
    page = client.get(f"/console/staff/{admin.id}")
    assert "This is you" in page.text
    refused = client.post(
        f"/console/staff/{admin.id}/disable", data={"csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 400
    assert account_of(session_factory, admin.email).disabled_at is None


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize("role", [Role.AGENT, Role.STORE, Role.MARKETER, Role.ANALYST])
def test_only_admins_manage_staff(
    client: TestClient, session_factory: sessionmaker[Session], role: Role
) -> None:
    sign_in(client, demo_login(role))
    home = client.get("/console")
    assert 'href="/console/staff"' not in home.text
    token = csrf_of(home.text)
    someone = demo_login(Role.AGENT)
    target = account_of(session_factory, someone.email).id
    for method, path in (
        ("get", "/console/staff"),
        ("get", f"/console/staff/{target}"),
        ("get", f"/console/staff/{target}/disable"),
        ("post", "/console/staff/invite"),
        ("post", f"/console/staff/{target}/role"),
        ("post", f"/console/staff/{target}/disable"),
        ("post", f"/console/staff/{target}/enable"),
    ):
        data = {"csrf_token": token, "role": "admin", "email": "x@y.example", "name": "X"}
        response = client.request(method, path, data=data if method == "post" else None)
        assert response.status_code == 403, path
        assert "Not for your role" in response.text
    assert account_of(session_factory, someone.email).disabled_at is None


@pytest.mark.usefixtures("shop")
def test_the_inbox_assigns_to_me_and_to_a_chosen_person(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    from tests.integration.console.test_pages import annas_conversation

    conversation = annas_conversation(session_factory)
    sign_in(client, demo_login(Role.AGENT))
    page = client.get(f"/console/inbox/{conversation}")
    assert "assigned to nobody" in page.text
    assert "Assign to me" in page.text
    admin = account_of(session_factory, demo_login(Role.ADMIN).email)
    # The choice lists agents and admins, not store staff.
    assert f'<option value="{admin.id}"' in page.text
    assert "Oskar Nyström" not in page.text.split('id="assign-agent"')[1].split("</select>")[0]
    token = csrf_of(page.text)
    to_me = client.post(
        f"/console/inbox/{conversation}/assign", data={"agent": "me", "csrf_token": token}
    )
    assert "assigned to Maja Lind" in to_me.text
    assert "Assign to me" not in to_me.text
    mine = client.get("/console/inbox?status=mine").text
    assert f'href="/console/inbox/{conversation}"' in mine
    assert "Maja Lind" in mine
    chosen = client.post(
        f"/console/inbox/{conversation}/assign", data={"agent": str(admin.id), "csrf_token": token}
    )
    assert "Assigned to Ingrid Berg." in chosen.text
    assert (
        f'href="/console/inbox/{conversation}"' not in client.get("/console/inbox?status=mine").text
    )
    unknown = client.post(
        f"/console/inbox/{conversation}/assign", data={"agent": "Eva", "csrf_token": token}
    )
    assert unknown.status_code == 422
    assert "Name an active staff account" in unknown.text


@pytest.mark.usefixtures("shop")
def test_every_console_answer_says_no_store(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    def no_store(path: str, method: str = "get", data: dict[str, str] | None = None) -> int:
        response = client.request(method, path, data=data, follow_redirects=False)
        assert response.headers.get("cache-control") == "no-store", (method, path)
        return int(response.status_code)

    # Signed out: the sign-in page, redirects, a refused form, an invalid invitation.
    assert no_store("/console/signin") == 200
    assert no_store("/console") == 303
    assert no_store("/console/customers") == 303
    assert no_store("/console/signin", "post", data={"email": "a"}) == 403
    assert no_store("/console/invitation?token=nope") == 404
    assert no_store("/console/signin", "post", data={"email": "a\u0000"}) == 400
    sign_in(client, demo_login(Role.ADMIN))
    conversation_id: UUID
    from tests.integration.console.test_pages import anna, annas_conversation

    conversation_id = annas_conversation(session_factory)
    admin = account_of(session_factory, demo_login(Role.ADMIN).email)
    for path in (
        "/console",
        "/console/customers",
        f"/console/customers/{anna(session_factory)}",
        "/console/inbox",
        f"/console/inbox/{conversation_id}",
        "/console/store",
        "/console/staff",
        f"/console/staff/{admin.id}",
        "/console/account",
    ):
        assert no_store(path) == 200, path
    assert no_store("/console/customers/not-a-uuid") >= 400
    assert no_store(f"/console/staff/{UUID(int=1)}") == 404
    assert no_store("/console/staff/invite", "post", data={}) == 403
    # The stylesheet may be cached.
    static = client.get("/console/static/console.css")
    assert static.status_code == 200
    assert static.headers.get("cache-control") != "no-store"
    client.cookies.clear()
    sign_in(client, demo_login(Role.MARKETER))
    assert no_store("/console/staff") == 403


@pytest.mark.usefixtures("shop")
def test_an_order_taken_in_the_store_names_the_person_on_the_timeline(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    from tests.integration.console.test_pages import anna, order_for_anna_in_the_store

    order_for_anna_in_the_store(client)
    timeline = client.get(
        f"/v1/profiles/{anna(session_factory)}/timeline",
        headers=bearer(create_secret_key(session_factory, role=Role.AGENT)),
    ).json()
    newest = timeline["items"][0]
    assert (newest["channel"], newest["source"]) == ("pos", "Oskar Nyström")


def _post_forms(page: str) -> list[str]:
    return re.findall(r'<form method="post".*?</form>', page, flags=re.DOTALL)


@pytest.mark.usefixtures("shop")
def test_a_double_sent_invitation_invites_once_and_shows_the_link_once(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    other = create_staff_account(session_factory, role=Role.AGENT, name="Ture Ek")
    sign_in(client, demo_login(Role.ADMIN))
    pages = ["/console/staff", f"/console/staff/{other.id}", "/console/account"]
    for path in [*pages, "/console/duplicates"]:
        for form in _post_forms(client.get(path).text):
            assert 'name="form_token"' in form, (path, form[:80])
    assert all(_post_forms(client.get(path).text) for path in pages)

    page = client.get("/console/staff").text
    form = _post_forms(page[page.index('action="/console/staff/invite"') - 40 :])[0]
    token = re.search(r'name="form_token" value="([^"]+)"', form)
    assert token is not None
    data = {
        "csrf_token": csrf_of(page),
        "form_token": token.group(1),
        "name": "Signe Berg",
        "email": "signe@norrsken.example",
        "role": "agent",
    }
    first = client.post("/console/staff/invite", data=data)
    assert 'id="invitation-link"' in first.text
    again = client.post("/console/staff/invite", data=data, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["idempotent-replayed"] == "true"
    shown = client.get(again.headers["location"]).text
    assert "invitation-link" not in shown
    assert "the link is shown only once" in shown
    with session_factory() as session:
        found = session.scalars(
            select(StaffAccount).where(StaffAccount.email == "signe@norrsken.example")
        ).all()
    assert len(found) == 1
