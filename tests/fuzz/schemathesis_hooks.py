"""Hooks Schemathesis loads for the fuzz run (see test_schemathesis.py)."""

from typing import Any
from uuid import uuid4

import schemathesis
from schemathesis import Case
from schemathesis.hooks import HookContext

MAX_KEY_LENGTH = 255


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], **kwargs: Any) -> None:
    """A fresh Idempotency-Key for each request that sends a valid one.

    Generated keys repeat ("0", "a") with other bodies, so most POSTs would stop at a
    documented 409 (key reused) before reaching the endpoint. Invalid keys are kept: their
    400 is worth checking. Replays have their own tests (tests/integration).
    """
    key = case.headers.get("Idempotency-Key")  # the headers ignore case
    if isinstance(key, str) and 1 <= len(key) <= MAX_KEY_LENGTH:
        case.headers["Idempotency-Key"] = uuid4().hex
