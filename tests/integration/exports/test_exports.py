"""Exports to a warehouse folder (S15): each kind to Parquet and CSV, read back by DuckDB
with Hive partitions; incremental runs, --since, --full, crashes; on both databases."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import duckdb
import orjson
import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Channel
from omnikanal.errors import RuleViolation
from omnikanal.events import repository as events_repository
from omnikanal.exports import runner
from omnikanal.exports.models import ExportCursor
from omnikanal.exports.schemas import Format, Kind
from omnikanal.kit.ids import new_id
from omnikanal.kit.time import utcnow
from omnikanal.uow import unit_of_work
from tests.factories import basic, bearer, create_secret_key, create_source
from tests.integration.commerce.conftest import GBG, LATTE, SCARF, Shop, shop  # noqa: F401

NOW = timedelta(0)


@pytest.fixture
def web(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return basic(create_source(session_factory, channel=Channel.WEB, name="Web shop"))


def track(message_id: str, *, at: str | None = None, user: str = "anon-1") -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": user,
        "messageId": message_id,
        "properties": {"sku": "COAT-1", "price": {"amount": 249_900, "currency": "SEK"}},
    }
    if at is not None:
        message["timestamp"] = at
    return message


def ingest(client: TestClient, headers: dict[str, str], *messages: dict[str, Any]) -> None:
    response = client.post("/v1/batch", json={"batch": list(messages)}, headers=headers)
    assert response.status_code == 200, response.text


def export(factory: sessionmaker[Session], kind: Kind, out: Path, **options: Any) -> runner.Report:
    return runner.run(factory, kind=kind, out=out, settle=NOW, **options)


def files(out: Path, dataset: str, pattern: str = "*.parquet") -> list[Path]:
    return sorted((out / dataset).glob(f"date=*/{pattern}"))


def query(sql: str) -> list[tuple[Any, ...]]:
    relation = duckdb.sql(sql)
    assert relation is not None
    return relation.fetchall()


def parquet(out: Path, dataset: str) -> str:
    return f"read_parquet('{out}/{dataset}/**/*.parquet', hive_partitioning=true)"


def csv(out: Path, dataset: str, ext: str = "csv") -> str:
    return f"read_csv('{out}/{dataset}/**/*.{ext}', hive_partitioning=true, header=true)"


def column_types(source: str) -> dict[str, str]:
    return {row[0]: row[1] for row in query(f"describe select * from {source}")}


def two_days_of_events(client: TestClient, web: dict[str, str]) -> None:
    ingest(
        client,
        web,
        track("m-1", at="2026-11-29T10:00:00Z"),
        track("m-2", at="2026-11-29T23:59:59Z"),
        track("m-3", at="2026-11-29T08:00:00+02:00"),
        track("m-4", at="2026-11-30T00:00:00Z"),
        track("m-5", at="2026-11-30T12:30:00Z"),
    )


# -- each kind, each format --


def test_events_to_parquet_read_back_by_duckdb_with_partitions_and_types(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    two_days_of_events(client, web)
    report = export(session_factory, Kind.EVENTS, tmp_path)
    assert report.rows() == 5
    assert [f.path.rsplit("/", 1)[0] for f in report.files] == [
        "events/date=2026-11-29",
        "events/date=2026-11-30",
    ]
    source = parquet(tmp_path, "events")
    assert query(f"select count(*) from {source}") == [(5,)]
    by_day = query(f"select date, count(*) from {source} group by date order by date")
    assert [(str(day), n) for day, n in by_day] == [("2026-11-29", 3), ("2026-11-30", 2)]
    types = column_types(source)
    assert types["event_id"] == "VARCHAR"
    assert types["profile_id"] == "VARCHAR"
    assert types["timestamp"] == "TIMESTAMP WITH TIME ZONE"
    assert types["received_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["properties"] == "VARCHAR"
    assert types["date"] == "DATE"
    # 08:00 at +02:00 is 06:00 UTC on the 29th: partitions are UTC days.
    (row,) = query(f"select timestamp, properties from {source} where message_id = 'm-3'")
    assert row[0] == datetime(2026, 11, 29, 6, tzinfo=UTC)
    assert orjson.loads(row[1])["price"] == {"amount": 249_900, "currency": "SEK"}
    # Plain Parquet: zstd, no pandas or Arrow schema blobs for an engine to depend on.
    metadata = pq.ParquetFile(tmp_path / report.files[0].path).metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert not {b"pandas", b"ARROW:schema"} & set(metadata.metadata or {})


@pytest.mark.parametrize("gzip", [False, True])
def test_events_to_csv_with_a_header_and_the_same_partitions(
    client: TestClient,
    web: dict[str, str],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    gzip: bool,
) -> None:
    two_days_of_events(client, web)
    report = export(session_factory, Kind.EVENTS, tmp_path, fmt=Format.CSV, gzip=gzip)
    ext = "csv.gz" if gzip else "csv"
    assert all(f.path.endswith(f".{ext}") for f in report.files)
    source = csv(tmp_path, "events", ext)
    by_day = query(f"select date, count(*) from {source} group by date order by date")
    assert [(str(day), n) for day, n in by_day] == [("2026-11-29", 3), ("2026-11-30", 2)]
    assert column_types(source)["timestamp"] == "TIMESTAMP WITH TIME ZONE"
    if not gzip:
        header = files(tmp_path, "events", "*.csv")[0].read_text().splitlines()[0]
        assert header.startswith('"event_id","message_id","source_id"')


def sell(shop: Shop, quantities: dict[str, int]) -> None:  # noqa: F811
    """A sale at the Göteborg till, paid in cash."""
    lines = [{"sku": sku, "quantity": quantity} for sku, quantity in quantities.items()]
    body = {"currency": "SEK", "lines": lines, "tenders": [{"type": "cash"}]}
    shop.ok(shop.client.post("/v1/orders", json=body, headers=shop.gbg), 201)


@pytest.mark.parametrize("fmt", [Format.PARQUET, Format.CSV])
def test_orders_with_lines_in_minor_units_beside_their_currency(
    shop: Shop,  # noqa: F811
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    fmt: Format,
) -> None:
    for sale in ({LATTE: 2}, {SCARF: 1, LATTE: 1}):
        sell(shop, sale)
    report = export(session_factory, Kind.ORDERS, tmp_path, fmt=fmt)
    assert (report.rows("orders"), report.rows("order_lines")) == (2, 3)
    read = parquet if fmt is Format.PARQUET else csv
    orders, lines = read(tmp_path, "orders"), read(tmp_path, "order_lines")
    today = utcnow().date()
    assert query(f"select date, count(*), sum(total) from {orders} group by date") == [
        (today, 2, 2 * 4_900 + 49_900 + 4_900)
    ]
    assert column_types(orders)["total"] == "BIGINT"
    assert column_types(orders)["placed_at"] == "TIMESTAMP WITH TIME ZONE"
    assert query(f"select distinct channel, location, currency from {orders}") == [
        ("pos", GBG, "SEK")
    ]
    joined = query(
        f"select o.number, l.sku, l.quantity, l.line_total from {orders} o "
        f"join {lines} l using (order_id) order by o.placed_at, l.position"
    )
    assert [(sku, qty, total) for _, sku, qty, total in joined] == [
        (LATTE, 2, 9_800),
        (SCARF, 1, 49_900),
        (LATTE, 1, 4_900),
    ]


def identify(user: str, email: str, **traits: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user,
        "messageId": f"id-{user}-{uuid4().hex[:6]}",
        "traits": {"email": email, **traits},
    }


@pytest.mark.parametrize("fmt", [Format.PARQUET, Format.CSV])
def test_profiles_with_identifiers_and_traits_as_json(
    client: TestClient,
    web: dict[str, str],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    fmt: Format,
) -> None:
    ingest(
        client,
        web,
        identify("u-anna", "anna@example.com", first_name="Anna"),
        identify("u-bo", "bo@example.com", first_name="Bo"),
    )
    report = export(session_factory, Kind.PROFILES, tmp_path, fmt=fmt)
    assert report.rows() == 2
    source = (parquet if fmt is Format.PARQUET else csv)(tmp_path, "profiles")
    rows = query(
        f"select identifiers, traits, date from {source} order by json_extract_string(traits, "
        "'$.first_name')"
    )
    assert [orjson.loads(traits)["first_name"] for _, traits, _ in rows] == ["Anna", "Bo"]
    assert {"type": "email", "value": "anna@example.com"} in orjson.loads(rows[0][0])
    assert {day for *_, day in rows} == {utcnow().date()}


# -- incremental --


def test_a_second_run_writes_only_what_is_new_and_an_empty_run_writes_nothing(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    two_days_of_events(client, web)
    first = export(session_factory, Kind.EVENTS, tmp_path)
    written = {path: path.read_bytes() for path in files(tmp_path, "events")}
    ingest(client, web, track("m-6", at="2026-11-30T13:00:00Z"), track("m-7"))
    second = export(session_factory, Kind.EVENTS, tmp_path)
    assert (first.rows(), second.rows()) == (5, 2)
    assert {f.path for f in second.files}.isdisjoint({f.path for f in first.files})
    # Old part files are never rewritten.
    assert all(path.read_bytes() == data for path, data in written.items())
    source = parquet(tmp_path, "events")
    assert query(f"select count(*), count(distinct event_id) from {source}") == [(7, 7)]
    third = export(session_factory, Kind.EVENTS, tmp_path)
    assert third.files == []
    assert len(files(tmp_path, "events")) == len(written) + len(second.files)
    with session_factory() as session:
        cursor = session.scalars(select(ExportCursor)).one()
        assert (cursor.kind, cursor.rows, cursor.runs, cursor.pending) == ("events", 7, 3, None)


def test_orders_and_profiles_export_what_was_added_since_the_last_run(
    shop: Shop,  # noqa: F811
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    sell(shop, {LATTE: 1})
    ingest(shop.client, shop.web_events, identify("u-anna", "anna@example.com"))
    assert export(session_factory, Kind.ORDERS, tmp_path).rows("orders") == 1
    assert export(session_factory, Kind.PROFILES, tmp_path).rows() == 1
    sell(shop, {LATTE: 1})
    ingest(shop.client, shop.web_events, identify("u-bo", "bo@example.com"))
    again = export(session_factory, Kind.ORDERS, tmp_path)
    assert (again.rows("orders"), again.rows("order_lines")) == (1, 1)
    assert export(session_factory, Kind.PROFILES, tmp_path).rows() == 1
    assert query(f"select count(distinct order_id) from {parquet(tmp_path, 'orders')}") == [(2,)]
    assert query(f"select count(distinct profile_id) from {parquet(tmp_path, 'profiles')}") == [
        (2,)
    ]


def test_since_overrides_the_start_and_full_starts_again(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ingest(client, web, track("m-1"), track("m-2"))
    export(session_factory, Kind.EVENTS, tmp_path)
    between = utcnow()
    ingest(client, web, track("m-3"))
    # From a time chosen by hand: only what was received after it.
    assert export(session_factory, Kind.EVENTS, tmp_path, since=between).rows() == 1
    assert export(session_factory, Kind.EVENTS, tmp_path).rows() == 0
    assert export(session_factory, Kind.EVENTS, tmp_path, full=True).rows() == 3
    with pytest.raises(RuleViolation):
        export(session_factory, Kind.EVENTS, tmp_path, full=True, since=between)


def test_one_folder_holds_one_format(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ingest(client, web, track("m-1"))
    export(session_factory, Kind.EVENTS, tmp_path)
    with pytest.raises(RuleViolation, match="parquet"):
        export(session_factory, Kind.EVENTS, tmp_path, fmt=Format.CSV)
    assert export(session_factory, Kind.EVENTS, tmp_path / "csv", fmt=Format.CSV).rows() == 1


def test_changes_within_the_settle_time_wait_for_the_next_run(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ingest(client, web, track("m-1"))
    waiting = runner.run(
        session_factory, kind=Kind.EVENTS, out=tmp_path, settle=timedelta(minutes=5)
    )
    assert waiting.rows() == 0
    assert export(session_factory, Kind.EVENTS, tmp_path).rows() == 1


# -- runs that die --


class Died(Exception):
    pass


def test_a_run_that_dies_while_writing_leaves_no_file_and_no_cursor_move(
    client: TestClient, web: dict[str, str], session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    ingest(client, web, *(track(f"m-{i}", at=f"2026-11-{10 + i}T10:00:00Z") for i in range(6)))

    def die_after_the_first_chunk(done: int, total: int | None) -> None:
        if done >= 2:
            raise Died

    with pytest.raises(Died):
        export(
            session_factory,
            Kind.EVENTS,
            tmp_path,
            chunk_rows=2,
            progress=die_after_the_first_chunk,
        )
    assert [p for p in (tmp_path / "events").rglob("*") if p.is_file()] == []
    assert export(session_factory, Kind.EVENTS, tmp_path).rows() == 6


def test_a_run_that_dies_after_recording_its_files_is_finished_by_the_next(
    client: TestClient,
    web: dict[str, str],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest(client, web, track("m-1"), track("m-2"))
    rename = runner._rename

    def die_before_renaming(root: Path, names: list[str]) -> None:
        raise Died

    monkeypatch.setattr(runner, "_rename", die_before_renaming)
    with pytest.raises(Died):
        export(session_factory, Kind.EVENTS, tmp_path)
    assert files(tmp_path, "events") == []
    # The finished files wait under hidden names that no engine reads.
    assert len(files(tmp_path, "events", ".part-*.tmp")) == 1
    monkeypatch.setattr(runner, "_rename", rename)
    ingest(client, web, track("m-3"))
    later = export(session_factory, Kind.EVENTS, tmp_path)
    assert later.rows() == 1
    source = parquet(tmp_path, "events")
    assert query(f"select count(*), count(distinct message_id) from {source}") == [(3, 3)]
    assert files(tmp_path, "events", ".part-*") == []


# -- size --


@pytest.fixture
def many_events(session_factory: sessionmaker[Session]) -> int:
    count, at = 20_000, datetime(2026, 11, 30, 9, tzinfo=UTC)
    source, profile = uuid4(), uuid4()
    with unit_of_work(session_factory) as session:
        for start in range(0, count, 2_000):
            events_repository.insert_events(
                session,
                [
                    {
                        "id": new_id(),
                        "source_id": source,
                        "channel": "web",
                        "location": None,
                        "type": "track",
                        "name": "Product Viewed",
                        "message_id": f"m-{i}",
                        "profile_id": profile,
                        "anchor_id": profile,
                        "user_id": None,
                        "anonymous_id": "anon-1",
                        "timestamp": at + timedelta(seconds=i),
                        "sent_at": None,
                        "received_at": at + timedelta(seconds=i),
                        "message": {"type": "track", "properties": {"i": i}},
                    }
                    for i in range(start, start + 2_000)
                ],
            )
    return count


def test_a_large_export_streams_in_chunks(
    many_events: int, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    report = export(session_factory, Kind.EVENTS, tmp_path, chunk_rows=2_000)
    # Read and written 2,000 rows at a time, never all at once.
    assert (report.chunks, report.largest_chunk, report.flushes) == (10, 2_000, 10)
    (written,) = report.files
    assert pq.ParquetFile(tmp_path / written.path).metadata.num_row_groups == 10
    source = parquet(tmp_path, "events")
    assert query(f"select count(*), min(message_id), max(date) from {source}") == [
        (many_events, "m-0", datetime(2026, 11, 30, tzinfo=UTC).date())
    ]


# -- the command and the API --


def test_the_command_exports_every_kind_and_prints_a_summary(
    client: TestClient,
    web: dict[str, str],
    database_url: str,
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from omnikanal.cli import app as cli

    two_days_of_events(client, web)
    env = {"OMNIKANAL_DATABASE_URL": database_url, "OMNIKANAL_DATA_DIR": str(tmp_path)}
    out = tmp_path / "warehouse"
    command = ["export", "events", "profiles", "orders", "--out", str(out), "--settle", "0"]
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 0, result.output
    assert "events" in result.output
    assert "order_lines" in result.output
    assert query(f"select count(*) from {parquet(out, 'events')}") == [(5,)]
    refused = CliRunner().invoke(cli, [*command, "--format", "csv"], env=env)
    assert refused.exit_code == 1
    assert "holds parquet exports" in refused.output


def test_admins_see_every_export_cursor(
    client: TestClient,
    web: dict[str, str],
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    two_days_of_events(client, web)
    export(session_factory, Kind.EVENTS, tmp_path)
    admin = bearer(create_secret_key(session_factory))
    (cursor,) = client.get("/v1/exports", headers=admin).json()
    assert cursor["kind"] == "events"
    assert cursor["destination"] == str(tmp_path.resolve())
    assert (cursor["rows"], cursor["runs"], cursor["pending"]) == (5, 1, False)
    assert client.get("/v1/exports", headers=web).status_code in (401, 403)
