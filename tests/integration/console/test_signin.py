"""Signing in to the console with a staff account: cookies, CSRF, roles, lock-out, one-time
codes, idle sessions, disabled accounts; secret keys cannot sign in."""

import re
from datetime import timedelta
from typing import Annotated

import pyotp
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from omnikanal.auth.models import Role, StaffAccount
from omnikanal.console.dependencies import SESSION_COOKIE, CheckedForm, require_console_roles
from omnikanal.console.models import ConsoleSession
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work
from tests.factories import (
    StaffLogin,
    create_secret_key,
    create_staff_account,
    csrf_of,
    sign_in,
)

__all__ = ["csrf_of", "sign_in"]  # other console tests import them from here


def attempt(client: TestClient, email: str, password: str, code: str = "") -> tuple[int, str]:
    page = client.get("/console/signin")
    response = client.post(
        "/console/signin",
        data={"email": email, "password": password, "code": code, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    alert = re.search(r'role="alert">([^<]*)<', response.text)
    return response.status_code, alert.group(1) if alert else ""


@pytest.fixture
def agents_only_page(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/console/agents")
    def agents(
        request: Request,
        user: Annotated[SignedIn, Depends(require_console_roles(Role.AGENT))],
    ) -> Response:
        return render(request, "home.html", title="Agents", user=user)

    @router.post("/console/agents/note")
    def note(
        user: Annotated[SignedIn, Depends(require_console_roles(Role.AGENT))], form: CheckedForm
    ) -> Response:
        return Response(f"noted {form.get('text')}")

    app.include_router(router)


def test_signed_out_requests_are_redirected_to_sign_in(client: TestClient) -> None:
    response = client.get("/console", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/signin?next=/console"


def test_sign_in_sets_a_safe_session_cookie_and_sign_out_ends_it(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    agent = create_staff_account(session_factory, role=Role.AGENT, name="Maja Lind")
    page = client.get("/console/signin")
    assert "secret_key" not in page.text  # keys are for machines
    response = client.post(
        "/console/signin",
        data={
            # However the address is typed, it is one account.
            "email": f"  {agent.email.upper()} ",
            "password": agent.password,
            "csrf_token": csrf_of(page.text),
            "next_path": "/console",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    home = client.get("/console")
    assert home.status_code == 200
    assert "Welcome, Maja Lind" in home.text
    with session_factory() as session:
        account = session.get(StaffAccount, agent.id)
        assert account is not None
        assert account.last_sign_in_at is not None
    out = client.post(
        "/console/signout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 303
    with session_factory() as session:
        assert session.scalars(select(ConsoleSession)).all() == []


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    agent = create_staff_account(session_factory, role=Role.AGENT)
    wrong = attempt(client, agent.email, "not the password at all")
    unknown = attempt(client, "nobody@staff.example", "not the password at all")
    assert wrong == unknown == (401, "The email or password is not right.")
    assert client.get("/console", follow_redirects=False).status_code == 303
    with session_factory() as session:
        account = session.get(StaffAccount, agent.id)
        assert account is not None
        assert account.failed_sign_ins == 1


def test_a_secret_key_cannot_sign_in(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    secret = create_secret_key(session_factory, role=Role.ADMIN)
    # Neither as the old form's field nor typed where the email or password goes.
    for data in (
        {"secret_key": secret},
        {"email": secret, "password": secret},
        {"email": "admin", "password": secret},
    ):
        page = client.get("/console/signin")
        response = client.post(
            "/console/signin",
            data={**data, "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 401, data
        assert client.get("/console", follow_redirects=False).status_code == 303


def test_five_failures_lock_the_account_until_the_time_is_up(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    agent = create_staff_account(session_factory, role=Role.AGENT)
    for _ in range(4):
        assert attempt(client, agent.email, "wrong password!!")[0] == 401
    # The count starts again after a success.
    sign_in(client, agent)
    client.cookies.clear()
    for _ in range(5):
        assert attempt(client, agent.email, "wrong password!!")[0] == 401
    status, message = attempt(client, agent.email, agent.password)
    assert status == 403
    assert message == "Too many failed sign-ins: this account is locked for 15 more minutes."
    # Fifteen minutes later (the lock moved into the past) the right password works again.
    with unit_of_work(session_factory) as session:
        session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == agent.id)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    sign_in(client, agent)
    assert client.get("/console").status_code == 200


def test_a_one_time_code_is_required_and_checked(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    secret = pyotp.random_base32()
    agent = create_staff_account(session_factory, role=Role.AGENT, totp_secret=secret)
    assert attempt(client, agent.email, agent.password) == (
        401,
        "Enter the 6-digit code from your authenticator app as well.",
    )
    right = pyotp.TOTP(secret).now()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert attempt(client, agent.email, agent.password, wrong) == (
        401,
        "The 6-digit code is not right; try the current one.",
    )
    assert attempt(client, agent.email, "wrong password!!", right)[0] == 401
    with session_factory() as session:
        account = session.get(StaffAccount, agent.id)
        assert account is not None
        assert account.failed_sign_ins == 2
    sign_in(client, agent, code=right)
    assert client.get("/console").status_code == 200


def test_a_person_turns_codes_on_and_off(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    agent = create_staff_account(session_factory, role=Role.AGENT)
    sign_in(client, agent)
    page = client.get("/console/account")
    assert page.status_code == 200
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page.text)
    assert secret is not None
    assert "otpauth://totp/" in page.text
    token = csrf_of(page.text)
    refused = client.post(
        "/console/account/totp",
        data={"secret": secret.group(1), "code": "000000", "csrf_token": token},
    )
    assert refused.status_code == 422
    assert "That code does not match" in refused.text
    assert f'value="{secret.group(1)}"' in refused.text  # the same key, to try again
    code = pyotp.TOTP(secret.group(1)).now()
    on = client.post(
        "/console/account/totp",
        data={"secret": secret.group(1), "code": code, "csrf_token": token},
        follow_redirects=False,
    )
    assert on.status_code == 303
    client.cookies.clear()
    assert attempt(client, agent.email, agent.password)[0] == 401
    sign_in(client, agent, code=pyotp.TOTP(secret.group(1)).now())
    page = client.get("/console/account")
    assert "Turn codes off" in page.text
    off = client.post(
        "/console/account/totp/off",
        data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert off.status_code == 303
    client.cookies.clear()
    sign_in(client, agent)


def _age_session(factory: sessionmaker[Session], login: StaffLogin, idle: timedelta) -> None:
    with unit_of_work(factory) as session:
        session.execute(
            update(ConsoleSession)
            .where(ConsoleSession.staff_account_id == login.id)
            .values(last_seen_at=utcnow() - idle)
        )


def _last_seen(factory: sessionmaker[Session], login: StaffLogin) -> timedelta:
    with factory() as session:
        row = session.scalars(
            select(ConsoleSession).where(ConsoleSession.staff_account_id == login.id)
        ).one()
        return utcnow() - row.last_seen_at


def test_a_session_ends_after_30_idle_minutes_and_each_page_view_moves_that_on(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    agent = create_staff_account(session_factory, role=Role.AGENT)
    sign_in(client, agent)
    _age_session(session_factory, agent, timedelta(minutes=29))
    assert client.get("/console").status_code == 200
    assert _last_seen(session_factory, agent) < timedelta(minutes=1)
    # A form sent moves it on too.
    page = client.get("/console/account")
    _age_session(session_factory, agent, timedelta(minutes=29))
    secret = re.search(r'name="secret" value="([A-Z2-7]+)"', page.text)
    assert secret is not None
    on = client.post(
        "/console/account/totp",
        data={
            "secret": secret.group(1),
            "code": pyotp.TOTP(secret.group(1)).now(),
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert on.status_code == 303
    assert _last_seen(session_factory, agent) < timedelta(minutes=1)
    _age_session(session_factory, agent, timedelta(minutes=30, seconds=1))
    response = client.get("/console", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/signin")


def test_a_session_lasts_twelve_hours_at_most(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    agent = create_staff_account(session_factory, role=Role.AGENT)
    sign_in(client, agent)
    with unit_of_work(session_factory) as session:
        session.execute(update(ConsoleSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_wrong_key_field_shows_the_form_again(client: TestClient) -> None:
    page = client.get("/console/signin")
    response = client.post(
        "/console/signin",
        data={"email": "x@staff.example", "password": "p", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 401
    assert "<form" in response.text
    assert 'value="x@staff.example"' in response.text  # what was typed is kept


def test_sign_in_without_its_csrf_token_is_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    agent = create_staff_account(session_factory, role=Role.AGENT)
    client.get("/console/signin")
    response = client.post(
        "/console/signin",
        data={"email": agent.email, "password": agent.password, "csrf_token": "forged"},
    )
    assert response.status_code == 403
    assert client.get("/console", follow_redirects=False).status_code == 303


@pytest.mark.usefixtures("agents_only_page")
def test_roles_decide_what_opens(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, create_staff_account(session_factory, role=Role.STORE, location="gbg-avenyn"))
    refused = client.get("/console/agents")
    assert refused.status_code == 403
    assert "Not for your role" in refused.text
    client.cookies.clear()
    sign_in(client, create_staff_account(session_factory, role=Role.AGENT))
    assert client.get("/console/agents").status_code == 200


@pytest.mark.usefixtures("agents_only_page")
def test_forms_without_their_csrf_token_are_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, create_staff_account(session_factory, role=Role.AGENT))
    token = csrf_of(client.get("/console/agents").text)
    missing = client.post("/console/agents/note", data={"text": "hi"})
    assert missing.status_code == 403
    assert "security token" in missing.text
    assert missing.headers["content-type"].startswith("text/html")
    ok = client.post("/console/agents/note", data={"text": "hi", "csrf_token": token})
    assert ok.text == "noted hi"


def test_sign_in_never_redirects_off_site(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    admin = create_staff_account(session_factory, role=Role.ADMIN)
    page = client.get("/console/signin?next=https://evil.example/")
    assert 'value="/console"' in page.text
    response = client.post(
        "/console/signin",
        data={
            "email": admin.email,
            "password": admin.password,
            "csrf_token": csrf_of(page.text),
            "next_path": "//evil",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console"
