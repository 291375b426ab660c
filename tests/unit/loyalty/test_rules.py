from omnikanal.loyalty import service
from omnikanal.loyalty.models import LoyaltyProgram


def rules() -> LoyaltyProgram:
    return LoyaltyProgram(**service.DEFAULT_PROGRAM)


def test_points_are_whole_units_times_the_rate() -> None:
    assert service.points_for(rules(), amount_minor=129_950, currency="SEK") == 1299
    assert service.points_for(rules(), amount_minor=99, currency="SEK") == 0
    assert service.points_for(rules(), amount_minor=1_000, currency="EUR") == 100
    assert service.points_for(rules(), amount_minor=1_000, currency="USD") == 0


def test_tier_progress() -> None:
    start = service.tier_progress(rules(), 0)
    assert (start.name, start.next_tier, start.points_to_next) == ("Member", "Silver", 2000)
    silver = service.tier_progress(rules(), 2500)
    assert (silver.name, silver.next_tier, silver.points_to_next) == ("Silver", "Gold", 3500)
    top = service.tier_progress(rules(), 9000)
    assert (top.name, top.next_tier, top.points_to_next) == ("Gold", None, None)


def luhn_valid(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 == 1 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def test_card_numbers_pass_the_luhn_check() -> None:
    numbers = {service._card_number() for _ in range(200)}
    assert len(numbers) == 200
    assert all(len(n) == 16 and n.startswith("7") and luhn_valid(n) for n in numbers)
