import re
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from omnikanal.auth.models import Role
from omnikanal.console.dependencies import SESSION_COOKIE, CheckedForm, require_console_roles
from omnikanal.console.pages import render
from omnikanal.console.service import SignedIn
from tests.factories import create_secret_key


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, secret: str, next_path: str = "/console") -> None:
    page = client.get("/console/signin")
    response = client.post(
        "/console/signin",
        data={"secret_key": secret, "csrf_token": csrf_of(page.text), "next_path": next_path},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


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
    secret = create_secret_key(session_factory, role=Role.AGENT)
    page = client.get("/console/signin")
    response = client.post(
        "/console/signin",
        data={"secret_key": secret, "csrf_token": csrf_of(page.text), "next_path": "/console"},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    home = client.get("/console")
    assert home.status_code == 200
    assert "test agent" in home.text
    out = client.post(
        "/console/signout", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    client.cookies.clear()
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_a_wrong_key_shows_the_form_again(client: TestClient) -> None:
    page = client.get("/console/signin")
    response = client.post(
        "/console/signin",
        data={"secret_key": "sk_wrong", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 403
    assert "not a valid secret key" in response.text
    assert "<form" in response.text


def test_sign_in_without_its_csrf_token_is_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    secret = create_secret_key(session_factory)
    client.get("/console/signin")
    response = client.post("/console/signin", data={"secret_key": secret, "csrf_token": "forged"})
    assert response.status_code == 403
    assert client.get("/console", follow_redirects=False).status_code == 303


@pytest.mark.usefixtures("agents_only_page")
def test_roles_decide_what_opens(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, create_secret_key(session_factory, role=Role.STORE, location="gbg-avenyn"))
    refused = client.get("/console/agents")
    assert refused.status_code == 403
    assert "Not for your role" in refused.text
    client.cookies.clear()
    sign_in(client, create_secret_key(session_factory, role=Role.AGENT))
    assert client.get("/console/agents").status_code == 200


@pytest.mark.usefixtures("agents_only_page")
def test_forms_without_their_csrf_token_are_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    sign_in(client, create_secret_key(session_factory, role=Role.AGENT))
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
    secret = create_secret_key(session_factory)
    page = client.get("/console/signin?next=https://evil.example/")
    assert 'value="/console"' in page.text
    response = client.post(
        "/console/signin",
        data={"secret_key": secret, "csrf_token": csrf_of(page.text), "next_path": "//evil"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console"
