"""S15: a back end uploads a file; the worker runs it a batch per transaction; its status,
counts and error report over HTTP; the file is deleted once done. Admins only."""

import gc
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnikanal.auth.models import Role
from omnikanal.catalog.models import Product
from omnikanal.imports import jobs, registry
from omnikanal.imports.kinds import BatchOutcome, ImportOptions
from omnikanal.imports.models import ImportJob
from omnikanal.imports.products import PRODUCTS
from omnikanal.timers.models import Timer
from omnikanal.uow import unit_of_work
from tests.factories import bearer, create_secret_key
from tests.integration.imports.conftest import (
    IMPORT_TIMERS,
    Hub,
    csv_text,
    gzipped,
    json_lines,
)
from tests.integration.marketing.conftest import make_due, timer_runner

HEADER = ("external_id", "email", "first_name")
ROWS = [("u-1", "u1@example.com", "Ulla"), ("u-2", "broken", "Ulf"), ("u-3", "", "Ursula")]


def spooled(hub: Hub) -> list[Path]:
    folder = hub.settings.data_dir / "imports"
    return sorted(folder.glob("*")) if folder.exists() else []


def test_an_upload_runs_on_the_worker_with_status_counts_and_an_error_report(hub: Hub) -> None:
    response = hub.upload("customers", csv_text(HEADER, ROWS).encode(), filename="crm.csv")
    assert response.status_code == 202, response.text
    queued = response.json()
    assert response.headers["location"] == f"/v1/imports/{queued['id']}"
    assert queued["status"] == "queued"
    assert queued["kind"] == "customers"
    assert queued["errors_url"] == f"/v1/imports/{queued['id']}/errors"
    # Until its job is done, the file waits in the data folder, readable by its owner only.
    [waiting] = spooled(hub)
    assert waiting.stat().st_mode & 0o077 == 0

    hub.run_worker()
    done = hub.job(queued["id"])
    assert done["status"] == "done"
    assert done["counts"] == {
        "read": 3,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "failed": 1,
        "skipped": 0,
    }
    assert done["position"] == 3
    assert done["finished_at"] is not None
    assert hub.errors(queued["id"]) == [
        {"row": "2", "field": "email", "reason": "not a valid email"}
    ]
    assert hub.profile(external_id="u-3") is not None
    # The file held personal data: gone once the job is done; the report stays.
    assert spooled(hub) == []


def test_imports_are_listed_newest_first_a_page_at_a_time(hub: Hub) -> None:
    ids = []
    for _ in range(3):
        response = hub.upload("customers", csv_text(HEADER, ROWS[:1]).encode())
        ids.append(response.json()["id"])
    first = hub.ok(hub.client.get("/v1/imports", params={"limit": 2}, headers=hub.admin))
    assert [j["id"] for j in first["items"]] == ids[::-1][:2]
    second = hub.ok(
        hub.client.get(
            "/v1/imports", params={"limit": 2, "cursor": first["next_cursor"]}, headers=hub.admin
        )
    )
    assert [j["id"] for j in second["items"]] == [ids[0]]
    assert second["next_cursor"] is None


def test_the_command_lists_imports_newest_first_with_their_counts(hub: Hub) -> None:
    """An operator finds an import's id again, whether the command or a back end ran it."""
    by_command = hub.imported("customers", str(hub.file("crm.csv", csv_text(HEADER, ROWS))), code=2)
    dry_run = hub.imported(
        "products", str(hub.file("p.csv", "sku,name,category\nS-1,Sko,shoes\n")), "--dry-run"
    )
    uploaded = hub.upload("customers", csv_text(HEADER, ROWS[:1]).encode()).json()

    listed = hub.cli("list")
    assert listed.exit_code == 0, listed.output
    ids = [uploaded["id"], dry_run["id"], by_command["id"]]
    at = [listed.output.index(job_id) for job_id in ids]
    assert at == sorted(at)  # newest first
    # Each job's facts, up to the next job's id: kind and format, status, nonzero counts.
    shown = [
        " ".join(listed.output[start:end].split())
        for start, end in zip(at, [*at[1:], len(listed.output)], strict=True)
    ]
    expected = [
        ("customers, hub", "queued", "0 read"),
        ("products, hub", "done, dry run", "1 read", "1 created"),
        ("customers, hub", "done", "3 read", "2 created", "1 failed"),
    ]
    for facts, told in zip(expected, shown, strict=True):
        for fact in facts:
            assert fact in told, (fact, told)
    assert "updated" not in shown[2]  # counts of zero are left out

    newest = hub.cli("list", "--limit", "1")
    assert newest.exit_code == 0, newest.output
    assert uploaded["id"] in newest.output
    assert dry_run["id"] not in newest.output


def test_a_dry_run_upload_of_gzip_json_lines_writes_nothing(hub: Hub) -> None:
    lines = json_lines([{"sku": f"S-{i}", "name": f"Thing {i}", "category": "x"} for i in range(5)])
    response = hub.upload("products", gzipped(lines), filename="products.jsonl.gz", dry_run=True)
    assert response.status_code == 202, response.text
    hub.run_worker()
    done = hub.job(response.json()["id"])
    assert done["options"]["dry_run"] is True
    assert done["counts"]["created"] == 5
    with hub.factory() as session:
        assert session.scalar(select(func.count()).select_from(Product)) == 0


def test_a_retried_upload_with_the_same_idempotency_key_is_one_job(hub: Hub) -> None:
    content = csv_text(HEADER, ROWS[:1]).encode()
    headers = {**hub.admin, "Idempotency-Key": "upload-1"}
    answers = [
        hub.client.post(
            "/v1/imports",
            headers=headers,
            files={"file": ("crm.csv", content, "text/csv")},
            data={"kind": "customers"},
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert answers[1].headers.get("idempotent-replayed") == "true"
    with hub.factory() as session:
        assert session.scalar(select(func.count()).select_from(ImportJob)) == 1
    assert len(spooled(hub)) == 1


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"kind": "wishes"}, "import_kind_unknown"),
        ({"kind": "stock", "format": "shopify"}, "import_format_invalid"),
        ({"kind": "customers", "map": "E-post"}, "import_column_map_invalid"),
        ({"kind": "customers", "channel": "telepathy"}, "import_channel_invalid"),
        ({"kind": "customers", "encoding": "ebcdic-klingon"}, "import_encoding_invalid"),
    ],
)
def test_an_upload_that_cannot_run_is_refused_and_keeps_no_file(
    hub: Hub, fields: dict[str, str], code: str
) -> None:
    given = dict(fields)
    kind = given.pop("kind")
    response = hub.upload(kind, b"sku\nA\n", **given)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert spooled(hub) == []


EXCEL_CSV = "Kundnummer;E-post;Förnamn;Efternamn\nk-1;asa@example.se;Åsa;Söderström\n"
EXCEL_MAP = "Kundnummer=external_id,E-post=email,Förnamn=first_name,Efternamn=last_name"


def test_a_file_saved_by_excel_on_windows_imports_with_its_encoding(hub: Hub) -> None:
    """Excel's CSV in Sweden: semicolons, cp1252. Read as UTF-8 it fails whole, saying
    which encoding to name; named, its letters arrive as written."""
    path = hub.file("kunder.csv", EXCEL_CSV.encode("cp1252"))
    failed = hub.imported("customers", str(path), "--map", EXCEL_MAP, code=1)
    assert failed["status"] == "failed"
    assert "cp1252" in failed["error"]
    assert hub.profile(external_id="k-1") is None

    done = hub.imported("customers", str(path), "--map", EXCEL_MAP, "--encoding", "Windows-1252")
    assert done["status"] == "done"
    assert done["options"]["encoding"] == "cp1252"
    person = hub.profile(external_id="k-1")
    assert person is not None
    assert (person["traits"]["first_name"], person["traits"]["last_name"]) == (
        "Åsa",
        "Söderström",
    )


def test_an_upload_in_utf16_imports_with_its_encoding(hub: Hub) -> None:
    response = hub.upload("customers", EXCEL_CSV.encode("utf-16"), map=EXCEL_MAP, encoding="utf-16")
    assert response.status_code == 202, response.text
    assert response.json()["options"]["encoding"] == "utf-16"
    hub.run_worker()
    assert hub.job(response.json()["id"])["counts"]["created"] == 1
    person = hub.profile(external_id="k-1")
    assert person is not None
    assert person["traits"]["last_name"] == "Söderström"


def test_an_unknown_encoding_is_refused_naming_the_option(hub: Hub) -> None:
    path = hub.file("kunder.csv", EXCEL_CSV.encode("cp1252"))
    refused = hub.cli("customers", str(path), "--encoding", "klingon")
    assert refused.exit_code == 1
    assert "unknown encoding 'klingon'" in refused.output
    response = hub.upload("customers", b"email\n", encoding="klingon")
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "encoding", "message": "unknown encoding"}]


def test_only_admins_import(hub: Hub) -> None:
    job_id = hub.upload("customers", csv_text(HEADER, ROWS[:1]).encode()).json()["id"]
    for role in (Role.AGENT, Role.STORE, Role.MARKETER, Role.ANALYST):
        key = bearer(
            create_secret_key(hub.factory, role=role, location="s1" if role is Role.STORE else None)
        )
        refused = [
            hub.client.post(
                "/v1/imports",
                headers=key,
                files={"file": ("x.csv", b"email\na@example.com\n")},
                data={"kind": "customers"},
            ),
            hub.client.get("/v1/imports", headers=key),
            hub.client.get(f"/v1/imports/{job_id}", headers=key),
            hub.client.get(f"/v1/imports/{job_id}/errors", headers=key),
        ]
        assert [r.status_code for r in refused] == [403] * 4, role
    assert hub.client.get("/v1/imports").status_code == 401
    assert hub.client.get(f"/v1/imports/{job_id}x", headers=hub.admin).status_code == 422
    missing = "01a22be4-0000-7000-8000-000000000000"
    assert hub.client.get(f"/v1/imports/{missing}", headers=hub.admin).status_code == 404
    assert hub.client.get(f"/v1/imports/{missing}/errors", headers=hub.admin).status_code == 404


def test_the_worker_resumes_at_the_committed_position_and_ignores_stale_timers(
    hub: Hub,
) -> None:
    hub.settings.import_batch_rows = 2
    rows = [(f"w-{i}", f"w{i}@example.com", "W") for i in range(7)]
    job_id = UUID(hub.upload("customers", csv_text(HEADER, rows).encode()).json()["id"])
    make_due(hub.factory, IMPORT_TIMERS)
    assert timer_runner(hub.app).run_due() == 1  # the first batch
    assert hub.job(str(job_id))["position"] == 2
    # A worker that died after its batch: its open file is gone, the position is not.
    jobs.WORKER_READERS.drop(job_id)
    # A timer whose lease ran out while its batch was committed finds the job moved on.
    with unit_of_work(hub.factory) as session:
        stale = jobs.run_batch(session, job_id, readers=jobs.ReaderCache(), expected_position=0)
    assert stale.ran is False
    hub.run_worker()
    done = hub.job(str(job_id))
    assert done["status"] == "done"
    assert done["counts"]["read"] == 7
    assert done["counts"]["created"] == 7
    with hub.factory() as session:
        fired = session.scalars(select(Timer.key).where(Timer.kind == "imports.batch")).all()
    assert len(fired) >= 3  # a batch per timer firing
    for i in range(7):
        assert hub.profile(external_id=f"w-{i}") is not None


class Exploding:
    """The products kind, except that a product named "boom" fails the whole batch."""

    name = "products"
    fields = PRODUCTS.fields
    field_prefixes = PRODUCTS.field_prefixes

    def apply(
        self,
        session: object,
        rows: Sequence[tuple[int, Mapping[str, str]]],
        *,
        options: ImportOptions,
    ) -> BatchOutcome:
        outcome = PRODUCTS.apply(session, rows, options=options)  # type: ignore[arg-type]
        if any(fields.get("name") == "boom" for _, fields in rows):
            raise RuntimeError("a failure deep inside, quoting boom")
        return outcome


def test_a_row_that_fails_its_batch_is_found_and_rejected_alone(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.KINDS, "products", Exploding())
    rows = [(f"P-{i}", "boom" if i == 5 else f"Product {i}", "c") for i in range(9)]
    path = hub.file("p.csv", csv_text(("sku", "name", "category"), rows))
    job = hub.imported("products", str(path), code=2)
    assert job["counts"]["created"] == 8
    assert job["counts"]["failed"] == 1
    assert hub.errors(job["id"]) == [
        {"row": "6", "field": "", "reason": "could not be stored (RuntimeError)"}
    ]
    with hub.factory() as session:
        skus = set(session.scalars(select(Product.sku)))
    assert skus == {f"P-{i}" for i in range(9)} - {"P-5"}


def test_a_batch_runs_with_the_collector_paused_and_leaves_it_on(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector_on: list[bool] = []
    apply = PRODUCTS.apply

    def watched(session: Session, rows: Sequence[Any], *, options: ImportOptions) -> BatchOutcome:
        collector_on.append(gc.isenabled())
        return apply(session, rows, options=options)

    monkeypatch.setattr(PRODUCTS, "apply", watched)
    hub.settings.import_batch_rows = 2
    rows = [(f"G-{i}", f"Product {i}", "c") for i in range(5)]
    upload = hub.upload("products", csv_text(("sku", "name", "category"), rows).encode())
    hub.run_worker()
    job = hub.job(upload.json()["id"])
    assert job["counts"]["created"] == 5
    assert collector_on == [False, False, False]
    assert gc.isenabled()


def test_the_sweep_removes_spooled_files_no_job_reads(hub: Hub) -> None:
    waiting = hub.upload("customers", csv_text(HEADER, ROWS[:1]).encode()).json()["id"]
    folder = hub.settings.data_dir / "imports"
    orphan = folder / "left-behind.upload"
    orphan.write_bytes(b"email\nsomeone@example.com\n")
    old = time.time() - 2 * 3600
    for path in folder.iterdir():
        os.utime(path, (old, old))
    with unit_of_work(hub.factory) as session:
        jobs.sweep(session)
    remaining = sorted(folder.iterdir())
    assert orphan not in remaining
    assert len(remaining) == 1  # the queued upload's file stays until its job is done
    hub.run_worker()
    assert hub.job(waiting)["status"] == "done"
    assert list(folder.iterdir()) == []
