"""The operator's commands, run as a real process would run them."""

import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer import _click
from typer.testing import CliRunner

from omnikanal import migrate
from omnikanal.app import create_app
from omnikanal.cli import app as cli
from omnikanal.config import Settings
from tests.factories import StaffLogin, basic, bearer, sign_in
from tests.integration.events.test_inbox import append


@pytest.fixture
def env(database_url: str, settings: Settings) -> dict[str, str]:
    # The data folder too: the demo writes its reminder email there (mail/*.eml).
    return {"OMNIKANAL_DATABASE_URL": database_url, "OMNIKANAL_DATA_DIR": str(settings.data_dir)}


def _commands(command: Any, path: list[str]) -> list[list[str]]:
    """Every command and group of the CLI, as the words that name it (a group lists its
    commands; some groups are imported only when asked for by name)."""
    found = [path]
    if hasattr(command, "list_commands"):
        context = _click.Context(command)
        for name in command.list_commands(context):
            found += _commands(command.get_command(context, name), [*path, name])
    return found


def test_every_command_answers_help() -> None:
    runner = CliRunner()
    commands = _commands(typer.main.get_command(cli), [])
    # Listed from the app itself, so a new command is covered unasked.
    for expected in (
        ["serve"],
        ["staff", "create"],
        ["privacy", "export"],
        ["retention", "run"],
        ["analytics", "funnel"],
        ["experiments", "plan"],
        ["recommendations", "train"],
    ):
        assert expected in commands
    for command in commands:
        result = runner.invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_the_command_line_starts_without_the_libraries_of_analysis() -> None:
    """Only analytics, experiments, recommendations and duplicate scoring need SciPy,
    DuckDB, Splink and pyarrow, and only migrating needs Alembic: an import or a key does
    not wait for them (together about 2 s)."""
    heavy = ("scipy", "duckdb", "splink", "pyarrow", "alembic")
    probe = f"import sys, omnikanal.cli; print([m for m in {heavy!r} if m in sys.modules])"
    started = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert started.stdout.strip() == "[]"


def test_keys_and_sources_print_a_working_key_last(env: dict[str, str], settings: Settings) -> None:
    runner = CliRunner()
    key_result = runner.invoke(cli, ["keys", "create", "--role", "admin", "--name", "ops"], env=env)
    assert key_result.exit_code == 0, key_result.output
    secret = key_result.output.strip().splitlines()[-1]
    source_result = runner.invoke(
        cli,
        ["sources", "create", "--name", "Tills Malmö", "--channel", "pos", "--location", "malmo"],
        env=env,
    )
    assert source_result.exit_code == 0, source_result.output
    write_key = source_result.output.strip().splitlines()[-1]
    client = TestClient(create_app(settings))
    sources = client.get("/v1/sources", headers=bearer(secret)).json()
    assert sources[0]["location"] == "malmo"
    assert client.get("/v1/sources", headers=basic(write_key)).status_code == 403


def test_a_bad_role_fails_with_a_reason(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "--role", "janitor"], env=env)
    assert result.exit_code != 0
    assert "janitor" in result.output


def test_a_channel_key_names_its_channel(env: dict[str, str], settings: Settings) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["keys", "create", "--role", "channel"], env=env)
    assert missing.exit_code != 0
    assert "channel" in missing.output
    made = runner.invoke(
        cli, ["keys", "create", "--role", "channel", "--channel", "app", "--name", "App"], env=env
    )
    assert made.exit_code == 0, made.output
    client = TestClient(create_app(settings))
    cart = client.post(
        "/v1/carts",
        json={"currency": "SEK", "anonymous_id": "phone-1"},
        headers=bearer(made.output.strip().splitlines()[-1]),
    )
    assert cart.status_code == 201, cart.text
    assert cart.json()["channel"] == "app"
    client.app.state.ingest_writer.close()  # type: ignore[attr-defined]


def test_failures_exit_non_zero_with_one_line(tmp_path: Path) -> None:
    bad_url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    completed = subprocess.run(
        [sys.executable, "-m", "omnikanal", "db", "upgrade"],
        env={"OMNIKANAL_DATABASE_URL": bad_url, "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == 1
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert "Traceback" not in completed.stderr


def test_demo_loads_once(env: dict[str, str], settings: Settings) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["demo"], env=env)
    assert first.exit_code == 0, first.output
    assert "demo retailer loaded" in first.output
    again = runner.invoke(cli, ["demo"], env=env)
    assert "already loaded" in again.output
    client = TestClient(create_app(settings))
    sources = client.get("/v1/sources", headers=bearer("sk_demo_admin")).json()
    assert {s["channel"] for s in sources} >= {"web", "app", "pos", "chat", "phone", "email"}
    assert sorted(s["location"] for s in sources if s["channel"] == "pos") == [
        "cph-stroget",
        "gbg-avenyn",
        "sthlm-drottninggatan",
    ]
    # The demo customer: one profile across the web shop, the app and a store.
    anna = client.get(
        "/v1/profiles?email=anna.svensson@example.com", headers=bearer("sk_demo_agent")
    ).json()["items"][0]
    assert [c["channel"] for c in anna["channels"]] == ["web", "app", "pos", "chat", "phone"]
    assert {i["type"] for i in anna["identifiers"]} == {
        "anonymous_id",
        "user_id",
        "email",
        "phone",
        "loyalty_card",
    }
    timeline = client.get(
        f"/v1/profiles/{anna['id']}/timeline", headers=bearer("sk_demo_agent")
    ).json()
    names = [(e["name"], e["source"]) for e in timeline["items"]]
    # The coat bought at a Göteborg till, a scarf left in her cart, a latte ordered ahead,
    # then a chat and a call about the coat.
    assert names[:5] == [
        ("Message Received", "Phone system"),
        ("Message Received", "Chat widget back end"),
        ("Order Completed", "App back end"),
        ("Product Added", "Web shop back end"),
        ("Order Completed", "Till system Göteborg"),
    ]
    till = timeline["items"][4]
    assert (till["channel"], till["location"]) == ("pos", "gbg-avenyn")
    client.app.state.ingest_writer.close()  # type: ignore[attr-defined]


def test_demo_has_a_priced_catalog(env: dict[str, str], settings: Settings) -> None:
    assert CliRunner().invoke(cli, ["demo"], env=env).exit_code == 0
    client = TestClient(create_app(settings))
    agent = bearer("sk_demo_agent")
    coat = client.get("/v1/products/COAT-WOOL-GREY-38", headers=agent).json()
    assert {p["currency"] for p in coat["prices"]} == {"SEK", "DKK"}
    till = client.get(
        "/v1/products/COAT-WOOL-GREY-38/price",
        params={"channel": "pos", "currency": "SEK"},
        headers=agent,
    ).json()
    assert till["unit_price"] == 249_900
    client.app.state.ingest_writer.close()  # type: ignore[attr-defined]


def test_the_demo_has_carts_and_orders_of_every_channel(
    env: dict[str, str], settings: Settings
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["demo"], env=env).exit_code == 0
    client = TestClient(create_app(settings))
    agent = bearer("sk_demo_agent")
    anna = client.get("/v1/profiles", params={"email": "anna.svensson@example.com"}, headers=agent)
    anna_id = anna.json()["items"][0]["id"]
    cart = client.get("/v1/carts/current", params={"user_id": "anna-1001"}, headers=agent).json()
    assert [line["sku"] for line in cart["lines"]] == ["SCARF-MERINO-RED"]
    orders = client.get("/v1/orders", params={"profile_id": anna_id}, headers=agent).json()
    assert [(o["channel"], o["status"]) for o in orders["items"]] == [
        ("app", "preparing"),
        ("pos", "completed"),
    ]
    # Her club card is the one she showed at the till; the coat earned her points.
    account = client.get(f"/v1/loyalty/{anna_id}", headers=agent).json()
    assert account["member"]["card_number"] == "7001234567890001"
    assert account["balance"] > 0
    # Her chat and then her call are one conversation, with her orders beside it.
    inbox = client.get("/v1/conversations", params={"profile_id": anna_id}, headers=agent).json()[
        "items"
    ]
    context = client.get(f"/v1/conversations/{inbox[0]['id']}/context", headers=agent).json()
    assert [m["channel"] for m in context["conversation"]["messages"]] == ["chat", "phone"]
    assert context["customer"]["profile_id"] == anna_id
    assert [o["status"] for o in context["orders"]] == ["preparing", "completed"]
    queue = client.get("/v1/locations/gbg-avenyn/pickups", headers=agent).json()
    assert queue[0]["profile_id"] == anna_id
    assert queue[0]["arrived_at"] is not None
    erik = client.get("/v1/carts/current", params={"user_id": "erik-2002"}, headers=agent)
    assert erik.status_code == 404  # checked out: his boots wait in Stockholm
    # His laptop's anonymous profile joined him when he signed up there: one merge to undo.
    erik_id = client.get("/v1/profiles", params={"user_id": "erik-2002"}, headers=agent)
    merges = client.get(f"/v1/profiles/{erik_id.json()['items'][0]['id']}/merges", headers=agent)
    assert [m["action"] for m in merges.json()] == ["merged"]
    audit = runner.invoke(cli, ["reports", "price-audit"], env=env)
    assert audit.exit_code == 0, audit.output
    assert "1 charged off the price book" in audit.output
    assert "SCARF-MERINO-RED" in audit.output
    client.app.state.ingest_writer.close()  # type: ignore[attr-defined]


def test_status_prints_the_database_revision_and_resolution_lag(
    env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    runner = CliRunner()
    healthy = runner.invoke(cli, ["status"], env=env)
    assert healthy.exit_code == 0, healthy.output
    assert str(migrate.head_revision()) in healthy.output
    assert "0 messages, 0.0 s" in healthy.output
    assert "within the bound of 60 s" in healthy.output
    append(session_factory, 3, age=timedelta(seconds=90))
    behind = runner.invoke(cli, ["status"], env=env)
    assert behind.exit_code == 2, behind.output
    assert "3 messages, 9" in behind.output
    assert "past the bound of 60 s" in behind.output
    assert "resolution lags past its bound" in behind.stderr
    relaxed = runner.invoke(
        cli, ["status"], env={**env, "OMNIKANAL_MAX_RESOLUTION_LAG_SECONDS": "120"}
    )
    assert relaxed.exit_code == 0, relaxed.output


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://nobody@127.0.0.1:1/none", "sqlite:///{tmp}/nothing-here.sqlite3"],
)
def test_status_of_an_unreachable_database_is_one_line_and_non_zero(
    tmp_path: Path, url: str
) -> None:
    result = CliRunner().invoke(
        cli, ["status"], env={"OMNIKANAL_DATABASE_URL": url.format(tmp=tmp_path)}
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    # Asking does not create an SQLite database.
    assert not (tmp_path / "nothing-here.sqlite3").exists()


def test_staff_create_list_and_disable(env: dict[str, str], settings: Settings) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["demo"], env=env).exit_code == 0
    created = runner.invoke(
        cli,
        [
            "staff",
            "create",
            "--email",
            "Nils@Norrsken.example",
            "--role",
            "agent",
            "--name",
            "Nils",
        ],
        env={**env, "OMNIKANAL_STAFF_PASSWORD": "a long password"},
    )
    assert created.exit_code == 0, created.output
    assert "agent Nils <nils@norrsken.example> created" in created.output
    # Asked twice, hidden, when the environment has none.
    asked = runner.invoke(
        cli,
        ["staff", "create", "--email", "k@norrsken.example", "--role", "store"]
        + ["--location", "gbg-avenyn"],
        env=env,
        input="another long one\nanother long one\n",
    )
    assert asked.exit_code == 0, asked.output
    assert "another long one" not in asked.output
    short = runner.invoke(
        cli,
        ["staff", "create", "--email", "s@norrsken.example", "--role", "agent"],
        env={**env, "OMNIKANAL_STAFF_PASSWORD": "short"},
    )
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    no_store = runner.invoke(
        cli,
        ["staff", "create", "--email", "w@norrsken.example", "--role", "store"]
        + ["--location", "wh-boras", "--invite"],
        env=env,
    )
    assert no_store.exit_code == 1
    assert "wh-boras is not a store" in no_store.output
    invited = runner.invoke(
        cli,
        ["staff", "create", "--email", "eva@norrsken.example", "--role", "admin", "--invite"],
        env=env,
    )
    assert invited.exit_code == 0, invited.output
    link = invited.output.strip().splitlines()[-1]
    assert "/console/invitation?token=" in link

    client = TestClient(create_app(settings))
    sign_in(client, StaffLogin(uuid.uuid4(), "nils@norrsken.example", "a long password", "Nils"))
    assert "Welcome, Nils" in client.get("/console").text
    listed = runner.invoke(cli, ["staff", "list"], env={**env, "COLUMNS": "200"})
    assert listed.exit_code == 0
    for shown in ("nils@norrsken.example", "eva@norrsken.example", "invited", "Maja Lind"):
        assert shown in listed.output
    disabled = runner.invoke(cli, ["staff", "disable", "--email", "NILS@norrsken.example"], env=env)
    assert disabled.exit_code == 0, disabled.output
    assert client.get("/console", follow_redirects=False).status_code == 303
    unknown = runner.invoke(cli, ["staff", "disable", "--email", "nobody@x.example"], env=env)
    assert unknown.exit_code == 1
    client.app.state.ingest_writer.close()  # type: ignore[attr-defined]


def test_the_demo_prints_console_sign_ins(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["demo"], env=env)
    assert result.exit_code == 0, result.output
    assert "agent@norrsken.example" in result.output
    assert "demo-agent-password" in result.output
    assert "sign in with a key" not in result.output


@pytest.mark.parametrize(
    ("command", "told"),
    [
        (["import", "status", "nope"], ["Invalid value for 'import_id'", "valid UUID"]),
        (["import", "errors", "nope"], ["Invalid value for 'import_id'", "valid UUID"]),
        (["export", "events", "--out", "{tmp}/w", "--since", "yesterday"],
         ["--since", "'yesterday' is not an ISO date or time"]),
        (["export", "events", "--out", "{tmp}/a-file"], ["--out", "is a file, not a folder"]),
        (["export", "events", "--out", "{tmp}/w", "--gzip"],
         ["--gzip", "is for CSV files (Parquet is compressed already)"]),
        (["reports", "price-audit", "--since", "last week"],
         ["--since", "'last week' is not an ISO date or time"]),
    ],
)  # fmt: skip
def test_a_bad_option_is_told_by_its_name_not_by_python(
    env: dict[str, str], tmp_path: Path, command: list[str], told: list[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    words = [word.replace("{tmp}", str(tmp_path)) for word in command]
    result = CliRunner().invoke(cli, words, env=env)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.replace("│", " ").split())  # as Rich's box wraps it
    for words_told in told:
        assert words_told in said, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "w").exists()  # refused before anything was written
