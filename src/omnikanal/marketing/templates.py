"""Messages rendered per channel from Jinja2 templates in one brand layout.

Email: ``<name>.subject.txt``, ``<name>.html`` (escaped) and ``<name>.txt``; SMS, push,
social and chat: ``<name>.<channel>.txt`` (push adds the subject as its title). A missing
variable is an error, never an empty gap in a customer's message."""

from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

BRAND = "omnikanal"


class RenderError(Exception):
    """A template could not be rendered; the message is marked failed with this reason."""


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("omnikanal.marketing", "templates"),
        undefined=jinja2.StrictUndefined,
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _render(name: str, context: dict[str, Any], *, html: bool = False) -> str:
    try:
        return _environment(html).get_template(name).render(brand=BRAND, **context).strip()
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {name} does not render: {type(exc).__name__}: {exc}") from exc


def render(template: str, *, channel: str, context: dict[str, Any]) -> Rendered:
    if channel == "email":
        subject = _render(f"{template}.subject.txt", context)
        # The layout's <title> is the subject as rendered.
        full = {**context, "subject": context.get("subject") or subject}
        return Rendered(
            subject=subject,
            text=_render(f"{template}.txt", full),
            html=_render(f"{template}.html", full, html=True),
        )
    if channel in ("sms", "push", "social", "chat"):
        title = _render(f"{template}.subject.txt", context) if channel == "push" else None
        return Rendered(
            subject=title, text=_render(f"{template}.{channel}.txt", context), html=None
        )
    raise RenderError(f"no templates for channel {channel}")


def page(name: str, **context: Any) -> str:
    """A page a customer opens from a message (``<name>.page.html``), in the brand layout."""
    return _render(f"{name}.page.html", context, html=True)


def money(amount: int, currency: str) -> str:
    """2499,00 SEK style: minor units shown with two decimals."""
    whole, cents = divmod(abs(amount), 100)
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole:,}".replace(",", " ") + f",{cents:02d} {currency}"
