"""A real SMTP server on loopback (aiosmtpd), settings that send to it, and a way to run
the worker's timers as if the delay had passed."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.config import Settings
from omnikanal.kit.time import utcnow
from omnikanal.timers.models import Timer, TimerStatus
from omnikanal.timers.runner import TimerRunner
from omnikanal.uow import unit_of_work
from tests.integration.commerce.conftest import shop  # noqa: F401  (the commerce retailer)
from tests.server import free_port


@dataclass
class MailSink:
    """Keeps what it receives; ``refuse`` makes it answer 550 to every message."""

    refuse: bool = False
    received: list[EmailMessage] = field(default_factory=list)
    refused: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse:
            self.refused += 1
            return "550 Mailbox unavailable"
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.received.append(mail)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[MailSink, int]]:
    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def mail(smtp: tuple[MailSink, int]) -> MailSink:
    return smtp[0]


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: tuple[MailSink, int]) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        nats_url=None,
        smtp_url=f"smtp://127.0.0.1:{smtp[1]}",
        mail_from="Shop <shop@example.com>",
        public_url="https://hub.example.com",
        abandoned_cart_delay=60,
        delivery_max_attempts=2,
        secret_key="test-secret",
        quiet_hours="",
    )


def timer_runner(app: FastAPI) -> TimerRunner:
    return TimerRunner(
        session_factory=app.state.session_factory,
        registry=app.state.registry,
        max_attempts=app.state.settings.delivery_max_attempts,
        after_commit=app.state.relay.run_handlers,
    )


SHORT_TIMERS = ("marketing.abandoned_cart", "marketing.deliver", "marketing.campaign_send")


def make_due(factory: sessionmaker[Session], kinds: tuple[str, ...] = SHORT_TIMERS) -> None:
    """As if time had passed: these kinds of scheduled timers are due now (by default not
    the post-purchase and win-back ones, days away)."""
    with unit_of_work(factory) as session:
        session.execute(
            update(Timer)
            .where(Timer.status == TimerStatus.SCHEDULED, Timer.kind.in_(kinds))
            .values(due_at=utcnow() - timedelta(seconds=1), locked_until=None)
        )


def run_later(app: FastAPI, *, rounds: int = 6, kinds: tuple[str, ...] = SHORT_TIMERS) -> None:
    """Let the delay pass and run the worker's timers until nothing is left to do."""
    runner = timer_runner(app)
    for _ in range(rounds):
        make_due(app.state.session_factory, kinds)
        if runner.run_due() == 0:
            return
