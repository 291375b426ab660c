"""Rendering: one Jinja2 environment, the navigation each role sees."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from omnikanal.auth.models import Role
from omnikanal.console.service import SignedIn

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

# Currencies whose minor unit is a hundredth; all the retailer's are.
_SYMBOLS = {"SEK": "kr", "DKK": "kr.", "NOK": "kr", "EUR": "€"}


def money(amount: int | None, currency: str = "SEK") -> str:
    """Minor units as a shopper reads them: 2 499,00 kr."""
    if amount is None:
        return ""
    sign = "−" if amount < 0 else ""
    whole, cents = divmod(abs(amount), 100)
    grouped = f"{whole:,}".replace(",", "\u00a0")
    return f"{sign}{grouped},{cents:02d}\u00a0{_SYMBOLS.get(currency, currency)}"


def when(value: datetime | None) -> str:
    """A UTC time, to the minute."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def label(value: str | None) -> str:
    """A code as words: ready_for_pickup → ready for pickup."""
    return (value or "").replace("_", " ")


templates.env.filters["money"] = money
templates.env.filters["when"] = when
templates.env.filters["label"] = label


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    roles: frozenset[Role]


# Each role sees only what it may open (admins see everything; Staff is theirs alone).
NAVIGATION: list[NavItem] = [
    NavItem("Customers", "/console/customers", frozenset({Role.AGENT, Role.STORE})),
    NavItem("Inbox", "/console/inbox", frozenset({Role.AGENT})),
    NavItem("Possible duplicates", "/console/duplicates", frozenset({Role.AGENT})),
    NavItem("Store", "/console/store", frozenset({Role.STORE})),
    NavItem("Audiences", "/console/audiences", frozenset({Role.MARKETER})),
    NavItem("Campaigns", "/console/campaigns", frozenset({Role.MARKETER})),
    NavItem("Message log", "/console/messages", frozenset({Role.MARKETER})),
    NavItem("Triggers", "/console/triggers", frozenset({Role.MARKETER})),
    NavItem("Stock alerts", "/console/stock-alerts", frozenset({Role.MARKETER})),
    NavItem("Staff", "/console/staff", frozenset()),
    NavItem("Keys", "/console/admin/keys", frozenset()),
    NavItem("Products", "/console/admin/products", frozenset()),
    NavItem("Locations", "/console/admin/locations", frozenset()),
    NavItem("Webhooks", "/console/admin/webhooks", frozenset()),
    NavItem("Health", "/console/admin/health", frozenset()),
]


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
