"""Reading an import's file: what a broken file says is wrong, and where."""

import gzip
from pathlib import Path

import pytest

from omnikanal.imports.reading import (
    FIELD_LIMIT_MIB,
    ImportFileError,
    RawRow,
    RowFile,
    encoding_named,
)


def rows_of(path: Path) -> list[RawRow]:
    file = RowFile(path)
    try:
        return list(file.rows())
    finally:
        file.close()


def failure_of(path: Path) -> str:
    with pytest.raises(ImportFileError) as failed:
        rows_of(path)
    return str(failed.value)


CSV = "".join(f"c-{n},person{n}@example.com\n" for n in range(1, 2001))


def test_a_row_with_more_cells_than_the_header_is_refused_alone(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("external_id,email\nc-1,a@example.com\nc-2,Ek, Bo,b@example.com\nc-3,,\n")
    found = rows_of(path)
    assert [(r.number, r.problem) for r in found] == [
        (1, None),
        (2, "has 4 cells where the header has 2 columns"),
        (3, None),  # empty cells past the header are no cells
    ]
    assert found[2].values == {"external_id": "c-3", "email": ""}


def test_short_rows_blank_rows_and_unnamed_columns(tmp_path: Path) -> None:
    """A row with fewer cells than the header has the rest empty; a row of blanks is no
    row (not numbered); a column without a name in the header is left out."""
    path = tmp_path / "people.csv"
    path.write_text("external_id,,email\nc-1,note,a@example.com\n , ,\t\nc-2\n,,\nc-3,x,\n")
    found = rows_of(path)
    assert [(r.number, r.values) for r in found] == [
        (1, {"external_id": "c-1", "email": "a@example.com"}),
        (2, {"external_id": "c-2", "email": ""}),
        (3, {"external_id": "c-3", "email": ""}),
    ]


def test_a_column_named_twice_fails_the_file(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("email,first_name,email\na@example.com,Ann,b@example.com\n")
    assert failure_of(path) == "the header names the column 'email' twice"


def test_a_cell_over_the_limit_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    huge = "x" * (FIELD_LIMIT_MIB * 1024 * 1024 + 1)
    path.write_text(f"sku,description\nA-1,short\nA-2,{huge}\n")
    assert failure_of(path) == f"data row 2 has a cell longer than {FIELD_LIMIT_MIB} MiB"


def test_a_gzip_file_cut_short_says_so_and_after_which_row(tmp_path: Path) -> None:
    whole = gzip.compress(("external_id,email\n" + CSV).encode())
    path = tmp_path / "people.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    message = failure_of(path)
    assert message.startswith("the gzip file is cut short or corrupt after data row ")
    assert 0 < int(message.rsplit(" ", 1)[1]) < 2000


def test_text_that_is_not_utf8_says_after_which_row(tmp_path: Path) -> None:
    """Text is decoded a block at a time: the row named is before the bad byte, not
    necessarily the one just before it."""
    path = tmp_path / "people.csv"
    path.write_bytes(("external_id,email\n" + CSV + "c-0,bj\xf6rn@example.com\n").encode("latin-1"))
    message = failure_of(path)
    assert message.startswith("the file is not utf-8 text after data row ")
    assert message.endswith(
        " (save it as UTF-8, or name its encoding: Excel on Windows writes cp1252)"
    )
    assert 0 < int(message.split("after data row ")[1].split()[0]) <= 2000


SWEDISH = "external_id;first_name;last_name\nk-1;Åsa;Söderström\nk-2;Øystein;Ærø\n"


@pytest.mark.parametrize("encoding", ["cp1252", "iso8859-1", "iso8859-15", "cp850", "utf-16"])
def test_a_file_in_another_encoding_reads_as_its_letters(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(SWEDISH.encode(encoding))
    file = RowFile(path, encoding)
    try:
        found = [row.values for row in file.rows()]
    finally:
        file.close()
    assert found == [
        {"external_id": "k-1", "first_name": "Åsa", "last_name": "Söderström"},
        {"external_id": "k-2", "first_name": "Øystein", "last_name": "Ærø"},
    ]


def test_json_lines_in_utf16_are_seen_as_json(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    path.write_bytes('{"external_id": "k-1", "first_name": "Åsa"}\n'.encode("utf-16"))
    file = RowFile(path, "utf-16")
    try:
        assert file.json_lines
        assert [row.values for row in file.rows()] == [{"external_id": "k-1", "first_name": "Åsa"}]
    finally:
        file.close()


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ("UTF8", "utf-8"),
        ("utf-8-sig", "utf-8"),
        ("windows-1252", "cp1252"),
        ("latin-1", "iso8859-1"),
        (" ISO-8859-15 ", "iso8859-15"),
        ("macroman", "mac-roman"),
    ],
)
def test_an_encoding_is_known_by_its_other_names(given: str, named: str) -> None:
    assert encoding_named(given) == named


@pytest.mark.parametrize("given", ["klingon", "base64", "rot13", "utf-32", ""])
def test_an_encoding_not_listed_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="unknown encoding"):
        encoding_named(given)
