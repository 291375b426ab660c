"""Rendering: one Jinja2 environment, the navigation each role sees."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from omnikanal.auth.models import Role
from omnikanal.console.service import SignedIn

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    roles: frozenset[Role]


# Pages register here as they are built; each role sees only what it may open.
NAVIGATION: list[NavItem] = []


def navigation_for(role: Role) -> list[NavItem]:
    return [item for item in NAVIGATION if role is Role.ADMIN or role in item.roles]


def render(
    request: Request,
    template: str,
    *,
    title: str,
    user: SignedIn | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return templates.TemplateResponse(
        request,
        template,
        {
            "title": title,
            "user": user,
            "nav": navigation_for(user.actor.role) if user else [],
            **context,
        },
        status_code=status_code,
    )
