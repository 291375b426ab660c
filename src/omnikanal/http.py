"""The HTTP edge: request ids, body limits and gzip, and the request's unit of work.

One pure ASGI middleware owns each request's database session. It commits only after the
endpoint produced a 2xx or 3xx response and *before* that response is sent, so nothing is
acknowledged that is not durable; any other outcome rolls back. It also stores and replays
Idempotency-Key results in that same transaction. The in-process handlers of the events
the request committed run after the answer was sent (``after_response``): the client
never waits for the reactions.
"""

import contextvars
import logging
import random
import re
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated
from urllib.parse import parse_qs
from uuid import UUID, uuid4

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omnikanal.errors import (
    TRANSIENT_SQLSTATES,
    BadRequest,
    CommonErrorCode,
    Conflict,
    InternalError,
    OmnikanalError,
    PayloadTooLarge,
    busy_answer,
    database_busy,
    error_response,
    problem_response,
)
from omnikanal.http_inputs import input_problem
from omnikanal.idempotency import service as idempotency_service
from omnikanal.idempotency.service import (
    IdempotencyErrorCode,
    IdempotentRequest,
    StoredResponse,
)
from omnikanal.uow import recorded_event_ids, reset_recorded, rows_after_read

logger = logging.getLogger("omnikanal.http")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# A transaction PostgreSQL broke off as a deadlock's victim, or could not serialize, did
# nothing: the request runs again in a new one, up to this many times in all.
ATTEMPTS = 4
# On every response: no page of the hub (the console above all) may be framed by another
# site, which would let it trick a signed-in member of staff into clicks (clickjacking).
SECURITY_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


# The statements the current request ran: a one-item list shared with the threads the
# request's work hops to (they copy the context, so they share the list).
_statements: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "omnikanal_statements", default=None
)


def count_statements(engine: Engine) -> None:
    """Count each request's SQL statements (``Omnikanal-Statements`` on its answer)."""

    def counted(*_args: object) -> None:
        counter = _statements.get()
        if counter is not None:
            counter[0] += 1

    event.listen(engine, "before_cursor_execute", counted)


def is_transient(exc: DBAPIError) -> bool:
    """Whether the database broke the transaction off and running it again may succeed."""
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def _holds_write_lock(session: Session) -> bool:
    """SQLite's write session holds the database's one write lock, so it may see a commit
    the read snapshot missed. PostgreSQL's sees nothing more than a moment earlier; a
    request with the same key committing meanwhile is caught by the key's unique index
    (``_after_key_race``)."""
    return session.get_bind().dialect.name == "sqlite"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            CommonErrorCode.PAYLOAD_TOO_LARGE, f"The body is larger than {limit} bytes."
        )
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                CommonErrorCode.PAYLOAD_TOO_LARGE, f"The body is larger than {limit} bytes."
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    encoding = (_header(scope, b"content-encoding") or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding != "gzip":
        raise BadRequest(
            CommonErrorCode.UNSUPPORTED_ENCODING,
            f"Content-Encoding {encoding!r} is not supported; send gzip or nothing.",
        )
    return _gunzip(body, limit)


def _gunzip(body: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequest(CommonErrorCode.BAD_REQUEST, f"The gzip body is corrupt: {exc}") from exc
    if len(data) > limit or decompressor.unconsumed_tail:
        raise PayloadTooLarge(
            CommonErrorCode.PAYLOAD_TOO_LARGE,
            f"The decompressed body is larger than {limit} bytes.",
        )
    return data


def _replace_headers(scope: Scope, body: bytes) -> None:
    headers = [
        (k, v) for k, v in scope["headers"] if k not in (b"content-encoding", b"content-length")
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    scope["headers"] = headers


class CapturedResponse:
    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""

    async def capture(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    def header_dict(self) -> dict[str, str]:
        return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.headers}

    async def send(self, send: Send, request_id: str, extra: dict[str, str] | None = None) -> None:
        headers = [(k, v) for k, v in self.headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(self.body)).encode()))
        headers.append((b"x-request-id", request_id.encode()))
        headers.extend(SECURITY_HEADERS)
        for key, value in (extra or {}).items():
            headers.append((key.encode(), value.encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def _from_problem(exc: OmnikanalError, request_id: str) -> CapturedResponse:
    response = problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        request_id=request_id,
        **exc.extra,
    )
    captured = CapturedResponse()
    captured.status = response.status_code
    captured.headers = list(response.raw_headers)
    captured.body = bytes(response.body)
    return captured


def _rendered(scope: Scope, exc: OmnikanalError) -> CapturedResponse:
    """An error met before the app ran, rendered as the app renders its own errors."""
    response = error_response(Request(scope), exc)
    captured = CapturedResponse()
    captured.status = response.status_code
    captured.headers = list(response.raw_headers)
    captured.body = bytes(response.body)
    return captured


def _replay(stored: StoredResponse) -> CapturedResponse:
    captured = CapturedResponse()
    captured.status = stored.status_code
    captured.headers = [(k.encode(), v.encode()) for k, v in stored.headers.items()]
    captured.headers.append((b"idempotent-replayed", b"true"))
    captured.body = stored.body
    return captured


def _unexpected(exc: Exception, request_id: str) -> CapturedResponse:
    """A request that raised: a moment's unavailability when the database was only busy
    (its transaction rolled back; sent again it may land), else a 500."""
    if database_busy(exc):
        logger.warning("database busy (request_id=%s): %s", request_id, exc)
        return _from_problem(busy_answer(), request_id)
    logger.exception("unexpected error (request_id=%s)", request_id)
    return _internal_error(request_id)


def _internal_error(request_id: str) -> CapturedResponse:
    return _from_problem(
        InternalError(
            CommonErrorCode.INTERNAL_ERROR,
            f"Something went wrong on our side. Quote request id {request_id}.",
        ),
        request_id,
    )


def _without_boundary(scope: Scope, body: bytes) -> bytes:
    """A multipart body with its boundary replaced by a fixed one: a client retrying an
    upload sends the same parts under a new random boundary, and is the same request."""
    content_type = _header(scope, b"content-type") or ""
    if not content_type.lower().startswith("multipart/"):
        return body
    found = re.search(r'boundary="?([^";]+)"?', content_type)
    return body.replace(found.group(1).encode("latin-1"), b"BOUNDARY") if found else body


def _credential(scope: Scope) -> str:
    # A browser's credential is its cookies (the console's session).
    return _header(scope, b"authorization") or _header(scope, b"cookie") or ""


# An HTML form's one-time token: every rendering of a form carries a new one, so a
# double-clicked button posts the same token twice and the second gets the first's answer.
FORM_TOKEN_FIELD = "form_token"


def _form_token(scope: Scope, body: bytes) -> str | None:
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    try:
        values = parse_qs(body.decode("latin-1"), max_num_fields=200).get(FORM_TOKEN_FIELD)
    except ValueError:  # too many fields: the form is refused on its own
        return None
    return f"form:{values[0]}" if values and values[0] else None


# An answer that shows a secret once (a new key, an invite link, a one-time-code key) says
# with this header where a repeat of its form is sent instead: the secret is never stored
# for the replay, and the header never leaves the hub.
SHOWN_ONCE_HEADER = "omnikanal-shown-once"


def _as_stored(response: CapturedResponse) -> tuple[int, dict[str, str], bytes]:
    """What is kept to answer a repeat of the request: the response, or for one that shows
    a secret once, a redirect to where the page says."""
    headers = response.header_dict()
    instead = headers.get(SHOWN_ONCE_HEADER)
    if instead is not None:
        return 303, {"location": instead}, b""
    return response.status, headers, response.body


def _without_shown_once(response: CapturedResponse) -> None:
    name = SHOWN_ONCE_HEADER.encode()
    response.headers = [(k, v) for k, v in response.headers if k.lower() != name]


class UnitOfWorkMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        session_factory: sessionmaker[Session],
        read_session_factory: sessionmaker[Session],
        max_body_bytes: int,
        after_response: Callable[[list[UUID]], Awaitable[None]] | None,
        own_transaction_paths: frozenset[str] = frozenset(),
        max_concurrent: int = 26,
        upload_paths: Mapping[str, int] | None = None,
        statements_header: bool = False,
    ) -> None:
        self.app = app
        self.statements_header = statements_header
        # Paths that take a file upload (imports), with the larger body each accepts.
        self.upload_paths = dict(upload_paths or {})
        # Requests past the pool's size wait here, in the event loop, before they take a
        # connection. A request holds its connection across several thread hops (the
        # key check, the endpoint, the commit, the handlers); unbounded, requests waiting
        # for a connection would fill every worker thread and the holders could not
        # finish (a stall until the pool timed out).
        self.max_concurrent = max_concurrent
        self._admission: anyio.Semaphore | None = None
        # Endpoints that commit through their own writer (ingestion): they read with a
        # read session and answer after their writer's commit; Idempotency-Key is not
        # used there (messageId de-duplicates).
        self.own_transaction_paths = own_transaction_paths
        self.session_factory = session_factory
        self.read_session_factory = read_session_factory
        self.max_body_bytes = max_body_bytes
        self.after_response = after_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming_id = _header(scope, b"x-request-id")
        request_id = (
            incoming_id if incoming_id and REQUEST_ID_PATTERN.match(incoming_id) else uuid4().hex
        )
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        try:
            limit = self.upload_paths.get(scope["path"], self.max_body_bytes)
            body = await _read_body(scope, receive, limit)
        except OmnikanalError as exc:
            await _rendered(scope, exc).send(send, request_id)
            return
        _replace_headers(scope, body)
        problem = await input_problem(
            scope, body, check_json=scope["path"] not in self.own_transaction_paths
        )
        if problem is not None:
            await _rendered(scope, problem).send(send, request_id)
            return
        if self._admission is None:
            self._admission = anyio.Semaphore(self.max_concurrent)
        counter = [0]
        _statements.set(counter if self.statements_header else None)
        async with self._admission:
            try:
                response, committed = await self._handle(scope, receive, body, request_id)
            except Exception as exc:
                # Answered here, as a complete response: an exception that reached the
                # server after the error handler had sent its answer made it reset the
                # kept-alive connection, failing the client's next request too.
                response, committed = _unexpected(exc, request_id), []
        if self.statements_header:
            response.headers.append((b"omnikanal-statements", str(counter[0]).encode()))
        _statements.set(None)
        await response.send(send, request_id)
        if committed and self.after_response is not None:
            # After the answer, outside the admission limit: the reactions hold no
            # request's place (an ASGI test client still sees them done on return).
            try:
                await self.after_response(committed)
            except Exception:
                # The events are committed; the worker retries their handlers.
                logger.exception("after-commit handlers failed (request_id=%s)", request_id)

    async def _handle(
        self, scope: Scope, receive: Receive, body: bytes, request_id: str
    ) -> tuple[CapturedResponse, list[UUID]]:
        method = scope["method"]
        reads_only = method in READ_METHODS or scope["path"] in self.own_transaction_paths
        factory = self.read_session_factory if reads_only else self.session_factory
        session = factory()
        scope["state"]["session"] = session
        try:
            return await self._run(session, scope, receive, body, request_id)
        finally:
            await anyio.to_thread.run_sync(session.close)

    async def _run(
        self, session: Session, scope: Scope, receive: Receive, body: bytes, request_id: str
    ) -> tuple[CapturedResponse, list[UUID]]:
        idempotent: IdempotentRequest | None = None
        try:
            key = _header(scope, b"idempotency-key") or _form_token(scope, body)
            if (
                scope["method"] == "POST"
                and key is not None
                and scope["path"] not in self.own_transaction_paths
            ):
                idempotent = idempotency_service.describe(
                    key=key,
                    credential=_credential(scope),
                    method=scope["method"],
                    path=scope["path"],
                    body=_without_boundary(scope, body),
                )
                # Retries are answered from a read snapshot, without waiting for the write
                # lock; then, holding it (SQLite), a request that committed meanwhile.
                replay = await self._committed_replay(idempotent)
                if replay is None and _holds_write_lock(session):
                    replay = await self._replay_in(session, idempotent)
                if replay is not None:
                    return replay, []
            response = await self._call_app_again_if_broken_off(session, scope, receive, body)
        except OmnikanalError as exc:
            await anyio.to_thread.run_sync(session.rollback)
            return _from_problem(exc, request_id), []
        except BaseException:
            await anyio.to_thread.run_sync(session.rollback)
            raise
        # 2xx and 3xx (a form's redirect after success) commit; errors change nothing.
        succeeded = 200 <= response.status < 400
        if succeeded and scope["method"] in READ_METHODS:
            await anyio.to_thread.run_sync(session.rollback)
            rows = rows_after_read(session)
            if rows:
                # A read is answered only once the record of it (the access log) is durable.
                await anyio.to_thread.run_sync(self._write_after_read, rows)
            return response, []
        if not succeeded:
            await anyio.to_thread.run_sync(session.rollback)
            if idempotent is not None and response.status >= 400:
                # A concurrent request with this key may have done the work first (the
                # cart is checked out, the stock is gone): its answer is this one's too.
                try:
                    replay = await self._committed_replay(idempotent)
                except OmnikanalError:
                    replay = None  # stored for another body: this request's own answer
                if replay is not None:
                    return replay, []
            return response, []
        try:
            committed = await anyio.to_thread.run_sync(self._commit, session, idempotent, response)
        except IntegrityError:
            await anyio.to_thread.run_sync(session.rollback)
            if idempotent is None:
                raise
            # A concurrent request with the same key committed first.
            return await self._after_key_race(idempotent, request_id), []
        return response, committed

    async def _committed_replay(self, idempotent: IdempotentRequest) -> CapturedResponse | None:
        """The replay of a committed answer to this key, read in its own read session."""
        stored = await anyio.to_thread.run_sync(self._find_committed, idempotent)
        return None if stored is None else _replay(stored)

    def _find_committed(self, idempotent: IdempotentRequest) -> StoredResponse | None:
        with self.read_session_factory() as session:
            return idempotency_service.find(session, idempotent)

    async def _replay_in(
        self, session: Session, idempotent: IdempotentRequest
    ) -> CapturedResponse | None:
        stored = await anyio.to_thread.run_sync(self._find_in, session, idempotent)
        return None if stored is None else _replay(stored)

    @staticmethod
    def _find_in(session: Session, idempotent: IdempotentRequest) -> StoredResponse | None:
        stored = idempotency_service.find(session, idempotent)
        if stored is not None:
            # Nothing to do: release the write lock now rather than after the answer.
            session.rollback()
        return stored

    async def _after_key_race(
        self, idempotent: IdempotentRequest, request_id: str
    ) -> CapturedResponse:
        try:
            replay = await self._committed_replay(idempotent)
        except OmnikanalError as exc:
            return _from_problem(exc, request_id)
        if replay is not None:
            return replay
        return _from_problem(
            Conflict(
                IdempotencyErrorCode.KEY_IN_USE,
                "Another request with this Idempotency-Key is in progress; retry later.",
            ),
            request_id,
        )

    def _write_after_read(self, rows: list[object]) -> None:
        """The rows a read request recorded, in one short write transaction of their own."""
        with self.session_factory() as session:
            session.add_all(rows)
            session.commit()

    def _commit(
        self, session: Session, idempotent: IdempotentRequest | None, response: CapturedResponse
    ) -> list[UUID]:
        if idempotent is not None:
            status, headers, body = _as_stored(response)
            idempotency_service.remember(
                session, idempotent, status_code=status, headers=headers, body=body
            )
        _without_shown_once(response)
        committed = recorded_event_ids(session)
        session.commit()
        reset_recorded(session)
        return committed

    async def _call_app_again_if_broken_off(
        self, session: Session, scope: Scope, receive: Receive, body: bytes
    ) -> CapturedResponse:
        """The app's answer; when the database broke the transaction off to end a deadlock
        (a new shopper's identifier made by a cart while the resolver makes it too, say),
        the request runs again from the start in a new transaction."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await self._call_app(scope, receive, body)
            except DBAPIError as exc:
                if attempt == ATTEMPTS or not is_transient(exc):
                    raise
                logger.warning("transaction broken off (%s); running it again", exc.orig)
                await anyio.to_thread.run_sync(session.rollback)
                reset_recorded(session)
                # Apart a little, so the two sides do not meet again at once.
                await anyio.sleep(random.uniform(0.005, 0.02) * attempt)
        raise AssertionError("unreachable")

    async def _call_app(self, scope: Scope, receive: Receive, body: bytes) -> CapturedResponse:
        sent = False

        async def replay_body() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured = CapturedResponse()
        await self.app(scope, replay_body, captured.capture)
        return captured


def get_session(request: Request) -> Session:
    session: Session = request.state.session
    return session


DbSession = Annotated[Session, Depends(get_session)]
