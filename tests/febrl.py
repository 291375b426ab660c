"""A small slice of FEBRL4 (../shared/data/febrl, see its SOURCE.md), read where it lies.

The data is licensed for testing and evaluation only and never copied into the project.
Without it a test skips with the reason, except under CI=true, where it fails.
"""

import csv
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shared_data() -> Path:
    """``../shared/data`` beside the repository, or ``$OMNIKANAL_SHARED_DATA``."""
    configured = os.environ.get("OMNIKANAL_SHARED_DATA")
    return Path(configured) if configured else ROOT.parent / "shared" / "data"


def require(path: Path) -> Path:
    if not path.exists():
        reason = f"{path} is absent (the FEBRL data is not copied into the project)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def entity(record_id: str) -> str:
    """``rec-<N>-org`` and ``rec-<N>-dup-<k>`` are person N."""
    return record_id.split("-")[1]


def febrl4_slice(people: int) -> list[dict[str, str]]:
    """The rows of the first ``people`` people of FEBRL4 (by number), from both files:
    two records each, one of them with typos."""
    folder = require(shared_data() / "febrl")
    rows: list[dict[str, str]] = []
    for name in ("dataset4a.csv", "dataset4b.csv"):
        with require(folder / name).open(newline="", encoding="utf-8") as handle:
            rows += [
                {k.strip(): (v or "").strip() for k, v in row.items()}
                for row in csv.DictReader(handle, skipinitialspace=True)
            ]
    chosen = sorted({entity(r["rec_id"]) for r in rows}, key=int)[:people]
    wanted = set(chosen)
    return [r for r in rows if entity(r["rec_id"]) in wanted]


def birthday(row: dict[str, str]) -> str | None:
    value = row["date_of_birth"]
    if len(value) != 8 or not value.isdigit():
        return None
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"
