"""The one price, as pure arithmetic: promotions, channels, windows, VAT."""

from datetime import UTC, datetime, timedelta

import pytest

from omnikanal.catalog.models import Promotion
from omnikanal.catalog.pricing import quote, vat_included

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def promotion(code: str, kind: str, value: int, **fields: object) -> Promotion:
    defaults: dict[str, object] = {
        "name": code,
        "currency": "SEK" if kind == "fixed" else None,
        "skus": ["COAT-38"],
        "categories": [],
        "channels": [],
        "starts_at": NOW - timedelta(days=1),
        "ends_at": NOW + timedelta(days=1),
        "active": True,
    }
    return Promotion(code=code, kind=kind, value=value, **{**defaults, **fields})


def price(
    channel: str = "web", at: datetime = NOW, *promotions: Promotion
) -> tuple[int, str | None]:
    result = quote(
        sku="COAT-38",
        category="coats",
        vat_rate_bp=2500,
        list_price=249_900,
        currency="SEK",
        channel=channel,
        at=at,
        promotions=promotions,
    )
    return result.unit_price, result.promotion_code


@pytest.mark.parametrize(
    ("amount", "rate", "vat"),
    [(12_500, 2500, 2_500), (10_600, 600, 600), (99, 2500, 20), (0, 2500, 0)],
)
def test_vat_inside_an_inclusive_price(amount: int, rate: int, vat: int) -> None:
    assert vat_included(amount, rate) == vat


def test_without_promotions_every_channel_pays_the_list_price() -> None:
    assert {price(channel)[0] for channel in ("web", "app", "pos")} == {249_900}


def test_a_promotion_applies_on_every_channel_unless_limited() -> None:
    everywhere = promotion("WINTER20", "percent", 2000)
    for channel in ("web", "app", "pos"):
        assert price(channel, NOW, everywhere) == (199_920, "WINTER20")
    app_only = promotion("APP10", "percent", 1000, channels=["app"])
    assert price("app", NOW, app_only) == (224_910, "APP10")
    assert price("pos", NOW, app_only) == (249_900, None)


def test_the_best_promotion_wins_and_windows_and_categories_count() -> None:
    small = promotion("OFF100", "fixed", 10_000)
    big = promotion("BYCATEGORY", "percent", 3000, skus=[], categories=["coats"])
    assert price("web", NOW, small, big) == (174_930, "BYCATEGORY")
    assert price("web", NOW + timedelta(days=2), small, big) == (249_900, None)
    other_currency = promotion("EUROS", "fixed", 500, currency="EUR")
    assert price("web", NOW, other_currency) == (249_900, None)
    inactive = promotion("OFF", "percent", 5000, active=False)
    assert price("web", NOW, inactive) == (249_900, None)


def test_a_discount_never_makes_a_price_negative() -> None:
    assert price("web", NOW, promotion("FREE", "fixed", 999_999))[0] == 0
