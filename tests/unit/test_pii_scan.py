"""The PII scan's matching (tests/pii.py): every spelling of a phone number, an email in
any case and encoding, names inside mail and archives."""

import gzip
import json
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.pii import Needle, as_text, matches, scan_folder

PHONE = Needle.phone("phone", "+46701234567")
EMAIL = Needle.text("email", "Zelda.Quist-1a2b@Example.org")
SURNAME = Needle.text("last name", "Quistgård")


@pytest.mark.parametrize(
    "spelling",
    [
        "+46701234567",
        "46701234567",
        "0046701234567",
        "0701234567",
        "070-123 45 67",
        "070 123 45 67",
        "070-1234567",
        "(070) 123-45-67",
        "070.123.45.67",
        "+46 (0)70 123 45 67",
        "+46\u00a070\u00a0123\u00a045\u00a067",
        "tel:+46-70-123-45-67",
    ],
)
def test_the_phone_is_found_in_every_spelling(spelling: str) -> None:
    assert matches(f"Call her on {spelling} after five", [PHONE]) == [PHONE]
    assert matches(json.dumps({"phone": spelling}), [PHONE]) == [PHONE]
    # As an encoder that escapes more than it must would store it.
    escaped = "".join(f"\\u{ord(c):04x}" if c in "+0" else json.dumps(c)[1:-1] for c in spelling)
    assert matches(escaped, [PHONE]) == [PHONE]


@pytest.mark.parametrize("other", ["+46701234568", "070-123 45 76", "+4670123456", "70123"])
def test_another_number_is_not_the_phone(other: str) -> None:
    assert matches(f"Call {other}", [PHONE]) == []


@pytest.mark.parametrize(
    "stored",
    [
        "zelda.quist-1a2b@example.org",
        "ZELDA.QUIST-1A2B@EXAMPLE.ORG",
        '{"email": "Zelda.Quist-1a2b@Example.org"}',
        '{"email": "zelda.quist-1a2b\\u0040example.org"}',
        "https://x.example/?to=zelda.quist-1a2b%40example.org",
        "&lt;zelda.quist-1a2b&#64;example.org&gt;",
    ],
)
def test_the_email_is_found_in_any_case_and_encoding(stored: str) -> None:
    assert matches(stored, [EMAIL, PHONE]) == [EMAIL]


def test_a_name_is_found_escaped_and_not_in_other_text() -> None:
    assert matches(json.dumps({"name": "Zelda Quistgård"}), [SURNAME]) == [SURNAME]
    assert matches(json.dumps({"name": "Zelda QUISTGÅRD"}, ensure_ascii=False), [SURNAME]) == [
        SURNAME
    ]
    assert matches("Quistgaard", [SURNAME]) == []
    assert matches("", [SURNAME]) == []


def test_bytes_are_decoded_and_compressed_bytes_unpacked() -> None:
    body = json.dumps({"email": "zelda.quist-1a2b@example.org"}).encode()
    for stored in (body, memoryview(body), gzip.compress(body)):
        assert matches(as_text(stored), [EMAIL]) == [EMAIL]
    assert matches(as_text({"traits": {"last_name": "Quistgård"}}), [SURNAME]) == [SURNAME]


def test_a_card_number_is_found_however_it_was_typed() -> None:
    card = Needle.number("loyalty card", "7001 2345 6789 0123")
    for typed in ("7001234567890123", "7001-2345-6789-0123", '{"card": "7001 2345 6789 0123"}'):
        assert matches(typed, [card]) == [card]
    assert matches("7001 2345 6789 0124", [card]) == []


def test_empty_or_short_needles_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        Needle.text("name", " ")
    with pytest.raises(ValueError, match="too short"):
        Needle.phone("phone", "112")
    with pytest.raises(ValueError, match="too short"):
        Needle.number("card", "12-34")


def test_files_are_read_decoded_and_unpacked(tmp_path: Path) -> None:
    mail = EmailMessage()
    mail["To"] = "Zelda Quistgård <Zelda.Quist-1a2b@Example.org>"
    mail["Subject"] = "Your coat"
    mail.set_content("Hej Zelda Quistgård, ring 070-123 45 67.", cte="base64")
    mail.add_alternative("<p>Hej Zelda Quistgård</p>", subtype="html", cte="quoted-printable")
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "1.eml").write_bytes(bytes(mail))
    with zipfile.ZipFile(tmp_path / "export.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("profile.json", json.dumps({"phone": "+46701234567"}))
    (tmp_path / "db.sqlite3").write_text("zelda.quist-1a2b@example.org")
    (tmp_path / "plain.txt").write_text("nothing here")

    hits = scan_folder(tmp_path, [EMAIL, PHONE, SURNAME], skip=[tmp_path / "db.sqlite3"])

    found = {(h.where, h.needle.label) for h in hits}
    # The base64 body's phone is found only once decoded; the RFC 2047 name likewise.
    assert ("file:mail/1.eml(decoded)", "phone") in found
    assert ("file:mail/1.eml(decoded)", "last name") in found
    assert ("file:mail/1.eml(decoded)", "email") in found
    assert ("file:export.zip!profile.json", "phone") in found
    assert not any("db.sqlite3" in where or "plain.txt" in where for where, _ in found)
