"""The commerce retailer, the conversations desk, and settings that write email into the
data folder (``mail/*.eml``)."""

from pathlib import Path

import pytest

from omnikanal.config import Settings
from tests.integration.commerce.conftest import shop  # noqa: F401  (the commerce retailer)
from tests.integration.conversations.conftest import desk  # noqa: F401  (the support desk)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        nats_url=None,
        public_url="https://hub.example.com",
        abandoned_cart_delay=60,
        delivery_max_attempts=3,
        secret_key="test-secret",
        quiet_hours="",
    )
