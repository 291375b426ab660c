"""Rendering: one Jinja2 environment, the navigation each role sees."""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
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


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(value: datetime | None, zone: str = "UTC") -> str:
    """A time in the retailer's zone (``OMNIKANAL_TIMEZONE``), to the minute."""
    if value is None:
        return ""
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return moment.astimezone(zone_of(zone)).strftime("%Y-%m-%d %H:%M")


@pass_context
def _when(context: Context, value: datetime | None) -> str:
    return when(value, context.get("timezone", "UTC"))


def human(value: object) -> str:
    """A value as people read it: yes/no, lists joined, nothing for nothing ("—")."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(human(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{label(str(k))}: {human(v)}" for k, v in value.items()) or "—"
    return str(value)


def zip_pairs(values: Iterable[str]) -> list[tuple[str, str]]:
    """Choices whose value is also their words."""
    return [(value, value) for value in values]


def new_form_token() -> str:
    """A form's one-time token (``http.FORM_TOKEN_FIELD``): each rendering gets its own."""
    return secrets.token_urlsafe(18)


def label(value: str | None) -> str:
    """A code as words: ready_for_pickup → ready for pickup."""
    return (value or "").replace("_", " ")


templates.env.filters["money"] = money
templates.env.filters["when"] = _when
templates.env.filters["human"] = human
templates.env.filters["zip_pairs"] = zip_pairs
templates.env.globals["new_form_token"] = new_form_token
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
    NavItem("Products", "/console/products", frozenset({Role.AGENT, Role.STORE})),
    NavItem("Analytics", "/console/analytics", frozenset({Role.ANALYST})),
    NavItem("Experiments", "/console/experiments", frozenset({Role.ANALYST, Role.MARKETER})),
    NavItem("Audiences", "/console/audiences", frozenset({Role.MARKETER})),
    NavItem("Campaigns", "/console/campaigns", frozenset({Role.MARKETER})),
    NavItem("Message log", "/console/messages", frozenset({Role.MARKETER})),
    NavItem("Triggers", "/console/triggers", frozenset({Role.MARKETER})),
    NavItem("Stock alerts", "/console/stock-alerts", frozenset({Role.MARKETER})),
    NavItem("Staff", "/console/staff", frozenset()),
    NavItem("Keys", "/console/admin/keys", frozenset()),
    NavItem("Catalog", "/console/admin/products", frozenset()),
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
            "timezone": request.app.state.settings.timezone,
            **context,
        },
        status_code=status_code,
    )
