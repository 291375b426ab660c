"""S15: customers from a CRM's or a web shop's export: people, identifiers, traits and
consent; the same file twice changes nothing; bad rows are reported, good ones land."""

import sqlite3
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from omnikanal.customers import duplicates as duplicates_module
from omnikanal.customers.models import Identifier, Profile
from omnikanal.marketing.models import Consent
from tests.integration.imports.conftest import Hub, csv_text, gzipped, json_lines

HEADER = (
    "external_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "birth_date",
    "address_line1",
    "postcode",
    "city",
    "country",
    "loyalty_card",
    "accepts_email_marketing",
)
ANNA = (
    "crm-1",
    " Anna.Svensson@Example.com",
    "070-123 45 67",
    "Anna",
    "Svensson",
    "1985-04-12",
    "Storgatan 1",
    "111 22",
    "Stockholm",
    "se",
    "7001 2345 6789 0001",
    "yes",
)
BO = ("crm-2", "bo.ek@example.com", "", "Bo", "Ek", "", "", "", "", "", "", "no")


def consent_of(hub: Hub, profile_id: str, channel: str = "email") -> bool:
    found = hub.ok(hub.client.get(f"/v1/profiles/{profile_id}/consents", headers=hub.admin))
    states = {(c["purpose"], c["channel"]): c["granted"] for c in found["consents"]}
    return bool(states[("marketing", channel)])


def counts(job: dict[str, object]) -> dict[str, int]:
    found = job["counts"]
    assert isinstance(found, dict)
    return {k: int(v) for k, v in found.items() if k != "skipped"}


def test_the_hub_format_makes_people_with_identifiers_traits_and_consent(hub: Hub) -> None:
    path = hub.file("crm.csv", csv_text(HEADER, [ANNA, BO]))
    job = hub.imported("customers", str(path))
    assert job["status"] == "done"
    assert counts(job) == {"read": 2, "created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    assert job["ignored_columns"] == []

    anna = hub.profile(email="anna.svensson@example.com")
    assert anna is not None
    held = {(i["type"], i["value"]) for i in anna["identifiers"]}
    assert {
        ("external_id", "crm-1"),
        ("email", "anna.svensson@example.com"),
        ("phone", "+46701234567"),
        ("loyalty_card", "7001234567890001"),
    } <= held
    assert anna["traits"]["first_name"] == "Anna"
    assert anna["traits"]["last_name"] == "Svensson"
    assert anna["traits"]["birthday"] == "1985-04-12"
    assert anna["traits"]["address"] == {
        "street": "Storgatan 1",
        "postal_code": "111 22",
        "city": "Stockholm",
        "country": "SE",
    }
    assert consent_of(hub, anna["id"]) is True
    bo = hub.profile(external_id="crm-2")
    assert bo is not None
    assert consent_of(hub, bo["id"]) is False
    assert hub.profile(loyalty_card="7001 2345 6789 0001") == anna


def test_the_same_file_twice_changes_nothing_the_second_time(hub: Hub) -> None:
    path = hub.file("crm.csv", csv_text(HEADER, [ANNA, BO]))
    hub.imported("customers", str(path))
    with hub.factory() as session:
        before = (
            session.scalar(select(func.count()).select_from(Profile)),
            session.scalar(select(func.count()).select_from(Identifier)),
            session.scalar(select(func.count()).select_from(Consent)),
            session.scalars(select(Profile.last_seen).order_by(Profile.id)).all(),
        )
    again = hub.imported("customers", str(path))
    assert counts(again) == {"read": 2, "created": 0, "updated": 0, "unchanged": 2, "failed": 0}
    with hub.factory() as session:
        after = (
            session.scalar(select(func.count()).select_from(Profile)),
            session.scalar(select(func.count()).select_from(Identifier)),
            session.scalar(select(func.count()).select_from(Consent)),
            session.scalars(select(Profile.last_seen).order_by(Profile.id)).all(),
        )
    assert after == before

    # A changed name and a withdrawn consent update the person; the rest stays unchanged.
    changed = (*ANNA[:3], "Anna-Karin", *ANNA[4:11], "no")
    third = hub.imported("customers", str(hub.file("crm2.csv", csv_text(HEADER, [changed, BO]))))
    assert counts(third) == {"read": 2, "created": 0, "updated": 1, "unchanged": 1, "failed": 0}
    anna = hub.profile(external_id="crm-1")
    assert anna is not None
    assert anna["traits"]["first_name"] == "Anna-Karin"
    assert consent_of(hub, anna["id"]) is False


def test_bad_rows_are_reported_by_row_and_field_and_the_good_ones_land(hub: Hub) -> None:
    rows = [
        ANNA,
        ("crm-3", "not-an-email", "", "Cia", "", "", "", "", "", "", "", ""),
        ("", "", "", "Nobody", "Known", "", "", "", "", "", "", ""),
        ("crm-4", "dora@example.com", "", "Dora", "", "31/12/1990", "", "", "", "Sweden", "", ""),
        ("crm-5", "eva@example.com", "12", "Eva", "", "", "", "", "", "SW", "", "perhaps"),
        BO,
    ]
    path = hub.file("crm.csv", csv_text(HEADER, rows))
    job = hub.imported("customers", str(path), code=2)
    assert counts(job) == {"read": 6, "created": 2, "updated": 0, "unchanged": 0, "failed": 4}
    assert hub.profile(external_id="crm-1") is not None
    assert hub.profile(external_id="crm-2") is not None
    for rejected in ("crm-3", "crm-4", "crm-5"):
        assert hub.profile(external_id=rejected) is None
    errors = hub.errors(job["id"])
    assert [(e["row"], e["field"]) for e in errors] == [
        ("2", "email"),
        ("3", ""),
        ("4", "birth_date"),
        ("4", "country"),
        ("5", "accepts_email_marketing"),
        ("5", "country"),  # the shape of a code, not one ISO 3166 has
        ("5", "phone"),
    ]
    report = str(errors)
    for value in ("not-an-email", "Nobody", "31/12/1990", "Sweden", "SW", "perhaps", "dora@"):
        assert value not in report  # reasons never quote the value (personal data)
    with hub.factory() as session:
        from omnikanal.imports.models import ImportRowError

        reasons = " ".join(session.scalars(select(ImportRowError.reason)).all())
    assert "not-an-email" not in reasons


def test_a_column_map_reads_a_file_with_its_own_headings(hub: Hub) -> None:
    text = csv_text(
        ("Kundnummer", "E-post", "Mobil", "Förnamn", "Efternamn"),
        [("k-77", "lisa@example.se", "0701112233", "Lisa", "Berg")],
        delimiter=";",
    )
    path = hub.file("kunder.csv", text)
    job = hub.imported(
        "customers",
        str(path),
        "--map",
        "Kundnummer=external_id,E-post=email,Mobil=phone,Förnamn=first_name,Efternamn=last_name",
    )
    assert counts(job)["created"] == 1
    assert job["options"]["map"]["E-post"] == "email"
    lisa = hub.profile(phone="+46701112233")
    assert lisa is not None
    assert lisa["traits"]["last_name"] == "Berg"
    assert ("external_id", "k-77") in {(i["type"], i["value"]) for i in lisa["identifiers"]}


def test_a_malformed_column_map_is_refused_before_anything_runs(hub: Hub) -> None:
    path = hub.file("crm.csv", csv_text(HEADER, [ANNA]))
    result = hub.cli("customers", str(path), "--map", "E-post")
    assert result.exit_code == 1
    assert "column map" in result.output
    assert hub.ok(hub.client.get("/v1/imports", headers=hub.admin))["items"] == []


def test_a_column_map_naming_a_column_the_file_lacks_fails_the_file(hub: Hub) -> None:
    path = hub.file("crm.csv", csv_text(HEADER, [ANNA, BO]))
    job = hub.imported("customers", str(path), "--map", "Epost=email", code=1)
    assert job["status"] == "failed"
    assert job["error"] == "the column map names 'Epost', which is not a column of the file"
    assert counts(job)["created"] == 0
    assert hub.profile(external_id="crm-1") is None


SHOPIFY_HEADER = (
    "Customer ID",
    "First Name",
    "Last Name",
    "Email",
    "Accepts Email Marketing",
    "Default Address Company",
    "Default Address Address1",
    "Default Address Address2",
    "Default Address City",
    "Default Address Province Code",
    "Default Address Country Code",
    "Default Address Zip",
    "Default Address Phone",
    "Phone",
    "Accepts SMS Marketing",
    "Total Spent",
    "Total Orders",
    "Note",
    "Tax Exempt",
    "Tags",
)


def test_shopify_customer_exports_import(hub: Hub) -> None:
    rows = [
        (
            "'7212891111",
            "Maja",
            "Lind",
            "maja.lind@example.com",
            "yes",
            "",
            "Vasagatan 5",
            "lgh 1102",
            "Göteborg",
            "",
            "SE",
            "411 24",
            "",
            "'+46702223344",
            "no",
            "1200.00",
            "3",
            "",
            "no",
            "vip",
        ),
        ("'7212892222", "Olle", "", "olle@example.com", "no", *[""] * 15),
    ]
    path = hub.file("customers_export.csv", csv_text(SHOPIFY_HEADER, rows))
    job = hub.imported("customers", str(path), "--format", "shopify")
    assert job["format"] == "shopify"
    assert counts(job)["created"] == 2
    maja = hub.profile(external_id="7212891111")
    assert maja is not None
    assert maja["traits"]["address"] == {
        "street": "Vasagatan 5",
        "street2": "lgh 1102",
        "postal_code": "411 24",
        "city": "Göteborg",
        "country": "SE",
    }
    assert ("phone", "+46702223344") in {(i["type"], i["value"]) for i in maja["identifiers"]}
    assert consent_of(hub, maja["id"]) is True
    assert consent_of(hub, maja["id"], "sms") is False
    again = hub.imported("customers", str(path), "--format", "shopify")
    assert counts(again)["unchanged"] == 2


def test_json_lines_gzip_and_standard_input(hub: Hub) -> None:
    lines = json_lines(
        [
            {"external_id": "j-1", "email": "j1@example.com", "accepts_email_marketing": True},
            {"external_id": "j-2", "first_name": "Two", "trait.segment": "gold"},
            {"external_id": 3, "email": "j3@example.com"},
        ]
    )
    gz = hub.file("people.jsonl.gz", gzipped(lines))
    job = hub.imported("customers", str(gz))
    assert counts(job)["created"] == 3
    two = hub.profile(external_id="j-2")
    assert two is not None
    assert two["traits"]["segment"] == "gold"
    assert hub.profile(external_id="3") is not None

    csv_bytes = csv_text(HEADER, [ANNA]).encode()
    piped = hub.imported("customers", "-", input=csv_bytes)
    assert counts(piped)["created"] == 1
    assert hub.profile(external_id="crm-1") is not None
    # Standard input was spooled into the data folder for the job, and is gone once done.
    assert list((hub.settings.data_dir / "imports").glob("*")) == []
    again = hub.imported("customers", "-", input=gzipped(csv_bytes))
    assert counts(again)["unchanged"] == 1


def test_a_dry_run_validates_everything_and_writes_nothing(hub: Hub) -> None:
    rows = [ANNA, ("crm-9", "bad", "", "", "", "", "", "", "", "", "", ""), BO]
    path = hub.file("crm.csv", csv_text(HEADER, rows))
    job = hub.imported("customers", str(path), "--dry-run", code=2)
    assert job["options"]["dry_run"] is True
    assert counts(job) == {"read": 3, "created": 2, "updated": 0, "unchanged": 0, "failed": 1}
    assert [(e["row"], e["field"]) for e in hub.errors(job["id"])] == [("2", "email")]
    with hub.factory() as session:
        assert session.scalar(select(func.count()).select_from(Profile)) == 0
        assert session.scalar(select(func.count()).select_from(Identifier)) == 0
        assert session.scalar(select(func.count()).select_from(Consent)) == 0
        from omnikanal.outbox.models import OutboxEvent

        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
    real = hub.imported("customers", str(path), code=2)
    assert counts(real)["created"] == 2


def test_people_who_share_a_phone_stay_apart_and_a_second_run_logs_nothing_new(
    hub: Hub,
) -> None:
    from omnikanal.customers.models import MergeLogEntry

    rows = [
        ("fam-1", "mor@example.com", "0701234567", "Mor", "", "", "", "", "", "", "", ""),
        ("fam-2", "far@example.com", "0701234567", "Far", "", "", "", "", "", "", "", ""),
    ]
    path = hub.file("family.csv", csv_text(HEADER, rows))
    first = hub.imported("customers", str(path))
    assert counts(first)["created"] + counts(first)["updated"] == 2
    mor, far = hub.profile(external_id="fam-1"), hub.profile(external_id="fam-2")
    assert mor is not None
    assert far is not None
    assert mor["id"] != far["id"]  # two user ids: two people, the merge is refused
    with hub.factory() as session:
        logged = session.scalar(select(func.count()).select_from(MergeLogEntry))
    again = hub.imported("customers", str(path))
    assert counts(again)["unchanged"] == 2
    with hub.factory() as session:
        assert session.scalar(select(func.count()).select_from(MergeLogEntry)) == logged


# Two rows of one person, as two systems spelled them: no identifier in common.
ANA_AGAIN = (
    "shop-77",
    "ana.s@example.net",
    "",
    "Ana",
    "Svenson",
    "1985-04-12",
    "Storgt. 1",
    "111 22",
    "Stockholm",
    "se",
    "",
    "no",
)


def duplicates(hub: Hub) -> list[dict[str, Any]]:
    found = hub.ok(hub.client.get("/v1/profiles/duplicates", headers=hub.admin))
    items: list[dict[str, Any]] = found["items"]
    return items


def test_an_import_looks_for_duplicate_customers_again(hub: Hub) -> None:
    assert duplicates(hub) == []
    path = hub.file("crm.csv", csv_text(HEADER, [ANNA, BO, ANA_AGAIN]))
    assert hub.imported("customers", str(path))["status"] == "done"
    # The command line looks once the import has ended: a suggestion, not a merge.
    (suggestion,) = duplicates(hub)
    assert suggestion["status"] == "open"
    assert hub.profile(email="anna.svensson@example.com") != hub.profile(email="ana.s@example.net")


def test_an_uploaded_import_looks_for_duplicates_on_the_worker(hub: Hub) -> None:
    job = hub.ok(hub.upload("customers", csv_text(HEADER, [ANNA, ANA_AGAIN]).encode()))
    hub.run_worker()
    assert hub.job(job["id"])["status"] == "done"
    assert len(duplicates(hub)) == 1


def test_a_dry_run_looks_for_no_duplicates(hub: Hub) -> None:
    path = hub.file("crm.csv", csv_text(HEADER, [ANNA, ANA_AGAIN]))
    assert hub.imported("customers", str(path), "--dry-run")["status"] == "done"
    assert duplicates(hub) == []


def test_looking_for_duplicates_after_an_upload_lets_the_hub_write_meanwhile(
    hub: Hub, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring every profile takes seconds on a large hub. On SQLite it runs before the
    follow-up's write transaction begins, so checkouts, events and key look-ups (which
    write) are not held up for it: here another writer gets the lock mid-scoring."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL has no database-wide write lock")
    scored = duplicates_module.find_duplicates
    wrote_meanwhile: list[bool] = []

    def scoring_while_another_writes(*args: Any, **kwargs: Any) -> Any:
        other = sqlite3.connect(make_url(database_url).database or "", timeout=2)
        try:
            other.execute("BEGIN IMMEDIATE")  # waits at most 2 s for the write lock
            other.execute("ROLLBACK")
            wrote_meanwhile.append(True)
        except sqlite3.OperationalError:
            wrote_meanwhile.append(False)
        finally:
            other.close()
        return scored(*args, **kwargs)

    monkeypatch.setattr(duplicates_module, "find_duplicates", scoring_while_another_writes)
    job = hub.ok(hub.upload("customers", csv_text(HEADER, [ANNA, ANA_AGAIN]).encode()))
    hub.run_worker()
    assert hub.job(job["id"])["status"] == "done"
    assert wrote_meanwhile == [True]
    assert len(duplicates(hub)) == 1


def test_a_customer_named_twice_in_a_file_is_refused_the_second_time(hub: Hub) -> None:
    """A CRM export with a customer on two rows: the later row is reported (it would
    otherwise overwrite the first in one run and be overwritten by it in the next)."""
    old = ("co-3", "co3@example.com", "", "Old", "", "", "", "", "", "", "", "")
    new = ("co-3", "other@example.com", "", "New", "", "", "", "", "", "", "", "")
    same_email = ("co-4", "CO3@example.com", "", "Twin", "", "", "", "", "", "", "", "")
    path = hub.file("crm.csv", csv_text(HEADER, [old, BO, new, same_email]))
    first = hub.imported("customers", str(path), code=2)
    assert counts(first) == {"read": 4, "created": 2, "updated": 0, "unchanged": 0, "failed": 2}
    assert [(e["row"], e["field"], e["reason"]) for e in hub.errors(first["id"])] == [
        ("3", "external_id", "names the customer of row 1 again: one row per customer"),
        ("4", "email", "names the customer of row 1 again: one row per customer"),
    ]
    again = hub.imported("customers", str(path), code=2)
    assert counts(again) == {"read": 4, "created": 0, "updated": 0, "unchanged": 2, "failed": 2}
    person = hub.profile(external_id="co-3")
    assert person is not None
    assert person["traits"]["first_name"] == "Old"
    assert hub.profile(email="other@example.com") is None


def test_columns_the_kind_does_not_read_are_said_not_silently_lost(hub: Hub) -> None:
    text = csv_text(
        ("email", "firstname", "lastname", "trait.shoe_size"),
        [("ines@example.com", "Ines", "Lund", "38")],
    )
    result = hub.cli("customers", str(hub.file("crm.csv", text)))
    assert result.exit_code == 0, result.output
    assert "the columns firstname, lastname are not fields of customers" in result.output
    job = hub.last_job()
    assert job["ignored_columns"] == ["firstname", "lastname"]
    ines = hub.profile(email="ines@example.com")
    assert ines is not None
    assert ines["traits"]["shoe_size"] == "38"
    # Mapped, they are read: nothing is left over.
    mapped = hub.imported(
        "customers",
        str(hub.file("crm.csv", text)),
        "--map",
        "firstname=first_name,lastname=last_name",
    )
    assert mapped["ignored_columns"] == []
    ines = hub.profile(email="ines@example.com")
    assert ines is not None
    assert ines["traits"]["first_name"] == "Ines"


def test_a_gzip_file_cut_short_lands_every_row_before_the_break(hub: Hub) -> None:
    rows = [(f"cut-{n}", f"cut{n}@example.com") for n in range(1, 3001)]
    whole = gzipped(csv_text(("external_id", "email"), rows).encode())
    path = hub.file("crm.csv.gz", whole[: len(whole) // 2])  # cut short in transit
    job = hub.imported("customers", str(path), code=1)
    assert job["status"] == "failed"
    assert job["error"].startswith("the gzip file is cut short or corrupt after data row ")
    read_up_to = int(job["error"].rsplit(" ", 1)[1])
    # Every row read before the break landed, though it was within the first batch.
    assert 0 < read_up_to < 2000
    assert counts(job)["created"] == read_up_to == job["position"]
    assert hub.profile(external_id=f"cut-{read_up_to}") is not None
    assert hub.profile(external_id=f"cut-{read_up_to + 1}") is None
