"""Settings, read from the environment (prefix ``OMNIKANAL_``) and never at import time."""

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

logger = logging.getLogger("omnikanal.config")

SECRET_KEY_FILE = "secret_key"


def default_data_dir() -> Path:
    return Path.cwd() / "data"


def stored_secret_key(data_dir: Path) -> str:
    """The key kept in ``<data dir>/secret_key``, made on first use, readable by its owner
    only: it signs links that act for a person (cart restore, unsubscribe)."""
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        _create_owner_only(path, secrets.token_urlsafe(32))
    _restrict_to_owner(path)
    return path.read_text().strip()


def _create_owner_only(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a private name, then linked in: a process that starts at the
    # same moment finds either no file or the complete one, and the first link wins.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(content)
        os.link(draft, path)
    except FileExistsError:
        pass
    finally:
        draft.unlink(missing_ok=True)


def _restrict_to_owner(path: Path) -> None:
    if path.stat().st_mode & 0o077 == 0:
        return
    try:
        path.chmod(0o600)
    except OSError:
        logger.warning("%s is readable by others; make it readable by its owner only", path)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMNIKANAL_", extra="ignore")

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the embedded SQLite database and local files.",
    )
    database_url: str | None = Field(
        default=None,
        description="Any SQLAlchemy URL; by default an SQLite file in the data folder.",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=8000, description="Port `serve` listens on.")
    public_url: str | None = Field(
        default=None, description="Address clients reach the hub at (links in messages)."
    )
    embedded_worker: bool = Field(
        default=True, description="Run the worker (relay, timers) inside `serve`."
    )
    count_statements: bool = Field(
        default=False,
        description="Answer each request with `Omnikanal-Statements`: the SQL statements it "
        "ran (benchmarks).",
    )
    max_body_bytes: int = Field(
        default=1_048_576, description="Largest request body accepted, after decompression."
    )
    idempotency_ttl_hours: int = Field(
        default=48, description="How long Idempotency-Key results are kept (at least 24)."
    )
    nats_url: str | None = Field(
        default=None, description="NATS server; when set, every domain event goes to JetStream."
    )
    nats_stream: str = Field(default="OMNIKANAL", description="JetStream stream name.")
    nats_subject_prefix: str = Field(
        default="omnikanal", description="Subjects are <prefix>.<event type>."
    )
    webhook_timeout_seconds: float = Field(default=5.0, description="Per webhook request.")
    delivery_max_attempts: int = Field(
        default=12, description="Attempts before a delivery is marked failed."
    )
    worker_poll_seconds: float = Field(default=1.0, description="Worker idle poll interval.")
    erasure_step_pause_seconds: float = Field(
        default=0.0,
        description="Pause between the domains of an erasure job (each its own transaction), "
        "so a large erasure leaves the database to other work between them.",
    )
    read_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        description="Longest a read given a position (`after=` or `Omnikanal-Position`) waits "
        "for resolution to pass it before answering 503 resolution_pending.",
    )
    max_resolution_lag_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long the oldest unresolved message may wait before /ready answers "
        "503 resolution_lagging.",
    )
    resolver: bool = Field(
        default=True,
        description="Resolve appended messages (place them with people) in this process; "
        "one process per database works at a time, the others stand by.",
    )
    resolver_batch_size: int = Field(
        default=5000, ge=1, description="Appended messages the resolver places per transaction."
    )
    resolver_batch_seconds: float = Field(
        default=0.05,
        gt=0,
        description="On SQLite, how long one resolver batch may hold the database's single "
        "write lock (appends wait meanwhile): batches are sized to last about this long, up "
        "to OMNIKANAL_RESOLVER_BATCH_SIZE.",
    )
    resolver_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How long the working resolver's lease lasts unrenewed; another process "
        "takes over after that.",
    )
    resolver_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often an idle resolver looks for appended messages."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    default_phone_region: str = Field(
        default="SE",
        description="ISO 3166 region for phone numbers written without a country code.",
    )
    pickup_days: int = Field(
        default=7,
        ge=1,
        description="Days a click-and-collect order waits at the store before it is called off.",
    )
    recommendations_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Threads training a recommendations model uses (each with one BLAS "
        "thread, as the implicit library asks).",
    )
    timezone: str = Field(
        default="Europe/Stockholm",
        description="IANA time zone the retailer's habits are told in (usual order time).",
    )
    duplicates_sync_limit: int = Field(
        default=20_000,
        ge=0,
        description="Most live profiles POST /v1/profiles/duplicates/compute scores in the "
        "request; more, and `omnikanal duplicates compute` does it.",
    )
    identity_rules: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Overrides of the identity rules per identifier type, as JSON: "
        '{"email": {"limit": 1}}. Keys: priority, limit (null = none), device.',
    )

    console_idle_minutes: int = Field(
        default=30,
        ge=1,
        description="Minutes without a page view after which a console session ends (each "
        "page view starts them again; a session lasts 12 hours at most).",
    )
    console_max_failed_sign_ins: int = Field(
        default=5, ge=1, description="Failed console sign-ins in a row that lock an account."
    )
    console_lockout_minutes: int = Field(
        default=15, ge=1, description="How long a locked staff account stays locked."
    )

    secret_key: str | None = Field(
        default=None,
        description="Signs links in messages (cart restore, unsubscribe); by default one is "
        "generated and kept in <data dir>/secret_key.",
    )
    abandoned_cart_delay: float = Field(
        default=86_400, description="Seconds after a cart's last change before its reminder."
    )
    cart_restore_link_days: int = Field(
        default=14, description="Days a cart-restore link in a reminder keeps working."
    )
    cart_restore_url: str | None = Field(
        default=None,
        description="The shop's page that restores a cart, with {token} in it; by default "
        "<public url>/v1/carts/restore/{token}.",
    )
    marketing_daily_cap: int = Field(
        default=2, description="Marketing messages one person may get per channel and day."
    )
    quiet_hours: str = Field(
        default="21-08",
        description="Local hours (OMNIKANAL_TIMEZONE) when campaign messages wait, e.g. "
        "21-08; empty for none.",
    )
    attribution_window_days: int = Field(
        default=7, description="Days after a click within which an order counts as converted."
    )
    post_purchase_delay: float = Field(
        default=259_200, description="Seconds after an order before its thank-you email."
    )
    win_back_days: int = Field(
        default=90, description="Days without an order before the win-back email."
    )
    smtp_url: str | None = Field(
        default=None,
        description="smtp://user:pass@host:587?starttls=true; without it, mail is written "
        "to <data dir>/mail as .eml files.",
    )
    mail_from: str = Field(
        default="omnikanal <no-reply@localhost>", description="Sender of the hub's email."
    )
    sms_webhook_url: str | None = Field(
        default=None, description="SMS provider adapter (signed JSON POST per message)."
    )
    push_webhook_url: str | None = Field(
        default=None, description="Push provider adapter (signed JSON POST per message)."
    )
    social_webhook_url: str | None = Field(
        default=None,
        description="Social inbox adapter: agents' replies on social media (signed JSON POST).",
    )
    chat_webhook_url: str | None = Field(
        default=None,
        description="The chat widget's back end: agents' replies in the chat (signed JSON POST).",
    )
    messaging_webhook_secret: str | None = Field(
        default=None,
        description="whsec_ secret signing the SMS/push webhooks; derived from the secret "
        "key when unset.",
    )

    retention_event_days: int = Field(
        default=730,
        ge=0,
        description="Days raw events (what channels sent) are kept, counted from when they "
        "happened; 0 keeps them forever.",
    )
    retention_conversation_days: int = Field(
        default=365,
        ge=0,
        description="Days after a conversation's last activity before its messages are "
        "deleted (the conversation's status, channels and times stay); 0 keeps them.",
    )
    retention_message_days: int = Field(
        default=90,
        ge=0,
        description="Days rendered marketing and notice messages (subject, bodies, the "
        "data they were rendered from) and their .eml files are kept; 0 keeps them.",
    )
    retention_notification_days: int = Field(
        default=90, ge=0, description="Days a notification's body is kept; 0 keeps it."
    )
    import_batch_rows: int = Field(
        default=2000,
        ge=1,
        le=20_000,
        description="Rows an import applies per transaction (the job's position moves by "
        "a batch; a killed import resumes at the next).",
    )
    import_max_upload_bytes: int = Field(
        default=256 * 1_048_576,
        ge=1,
        description="Largest file POST /v1/imports accepts (gzip counts compressed: upload "
        ".csv.gz to send more rows).",
    )
    retention_batch_size: int = Field(
        default=500, ge=1, description="Rows retention deletes or blanks per transaction."
    )
    retention_batch_pause_seconds: float = Field(
        default=0.05,
        ge=0,
        description="Pause between retention batches, so ingestion and the resolver get "
        "the database (on SQLite: its one write lock) in between.",
    )
    retention_max_rows_per_run: int = Field(
        default=20_000,
        ge=1,
        description="Most rows one retention run removes per kind of data; the rest waits "
        "for the next run (every 10 minutes in the worker).",
    )

    def resolved_secret_key(self) -> str:
        return self.secret_key or stored_secret_key(Path(self.data_dir))

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'omnikanal.sqlite3'}"


def settings_of(session: "Session") -> Settings:
    """The settings a session was made with (``db.make_session_factory(settings=...)``), or
    the defaults read from the environment."""
    settings: Settings | None = session.info.get("settings")
    return settings or Settings()
