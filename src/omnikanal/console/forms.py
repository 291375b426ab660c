"""Console forms that refuse well: the page comes back with what was typed, the reason in
words beside the field it is about, and a summary at the top (status 422).

A form's action runs in a savepoint, so a refusal part-way leaves nothing behind and the
page is drawn from the state before it. Double submits are answered by the form's
one-time token (``http.FORM_TOKEN_FIELD``): the second post gets the first one's answer.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.responses import Response

from omnikanal.errors import BadRequest, CommonErrorCode, OmnikanalError
from omnikanal.http import SHOWN_ONCE_HEADER
from omnikanal.uow import savepoint

# Posted with every form, never typed: not kept for the page.
HIDDEN_FIELDS = frozenset({"csrf_token", "form_token"})


class FieldRefused(BadRequest):
    """A field's value refused before anything ran: the message is about that field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(
            CommonErrorCode.BAD_REQUEST,
            message,
            errors=[{"field": field_name, "message": message}],
        )
        self.field_name = field_name


@dataclass(frozen=True)
class Refusal:
    """Which form was refused, what was typed, and why (by field; "" for the whole form)."""

    form: str
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        return next(iter(self.errors.values()), "")


def typed(form: FormData) -> dict[str, str]:
    return {
        key: value
        for key, value in form.items()
        if key not in HIDDEN_FIELDS and isinstance(value, str)
    }


def values_of(form: FormData, *names: str) -> dict[str, str]:
    """The named fields' text, trimmed ("" for one not sent)."""
    return {name: text(form, name, required=False) for name in names}


def with_notice(path: str, done: str) -> str:
    """Where a form leads after it went through, with the words that say what it did."""
    return f"{path}?{urlencode({'done': done})}"


def text(form: FormData, name: str, *, required: bool = True, missing: str = "") -> str:
    """A field's text, trimmed; a required one left empty is refused with ``missing``."""
    value = form.get(name)
    found = value.strip() if isinstance(value, str) else ""
    if required and not found:
        raise FieldRefused(name, missing or f"Fill in the {name.replace('_', ' ')}.")
    return found


def refusal(
    form_name: str,
    form: FormData,
    exc: OmnikanalError,
    fields_by_code: Mapping[str, str] | None = None,
    *,
    values: dict[str, str] | None = None,
) -> Refusal:
    """The refusal of ``exc`` for the page: its field from the error itself, else from the
    form's map of error codes to fields, else the fields the error names (each in its own
    words), else the whole form. ``values``: what was typed as the form read it (else all)."""
    by_code = (fields_by_code or {}).get(str(exc.code))
    errors: dict[str, str]
    if isinstance(exc, FieldRefused):
        errors = {exc.field_name: exc.detail}
    elif by_code is not None:
        errors = {by_code: exc.detail}
    else:
        errors = {
            str(e["field"]): str(e["message"])
            for e in exc.extra.get("errors", [])
            if isinstance(e, Mapping) and "field" in e
        } or {"": exc.detail}
    return Refusal(form=form_name, values=typed(form) if values is None else values, errors=errors)


@contextmanager
def attempt(session: Session) -> Iterator[None]:
    """Run a form's action in a savepoint: refused, it leaves nothing behind."""
    with savepoint(session):
        yield


def run(
    session: Session,
    action: Callable[[], object],
) -> OmnikanalError | None:
    """The action's refusal, or None when it went through."""
    try:
        with attempt(session):
            action()
    except OmnikanalError as exc:
        return exc
    return None


def shown_once(response: Response, instead: str) -> Response:
    """An answer that shows a secret once (a new key, an invite link): a repeat of its form
    is led to ``instead``, and the secret is not kept to answer it."""
    response.headers[SHOWN_ONCE_HEADER] = instead
    return response
