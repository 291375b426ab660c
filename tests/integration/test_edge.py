"""What the HTTP edge guarantees every response and the files it keeps (issue 12)."""

import stat
from pathlib import Path

from fastapi.testclient import TestClient

from omnikanal.config import Settings
from omnikanal.marketing import tokens


def test_no_page_may_be_framed(client: TestClient) -> None:
    for path in ("/console/signin", "/console", "/health", "/v1/nothing-here"):
        response = client.get(path, follow_redirects=False)
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'", path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_generated_secret_key_is_readable_by_its_owner_only(settings: Settings) -> None:
    key = tokens.secret_key(settings)
    path = settings.data_dir / "secret_key"
    assert _mode(path) == 0o600
    assert tokens.secret_key(settings) == key
    assert not [p for p in settings.data_dir.iterdir() if p.name.startswith(".secret_key")]


def test_an_existing_world_readable_secret_key_is_tightened_and_kept(
    settings: Settings,
) -> None:
    path = settings.data_dir / "secret_key"
    path.write_text("kept-from-before\n")
    path.chmod(0o644)
    assert tokens.secret_key(settings) == b"kept-from-before"
    assert _mode(path) == 0o600
