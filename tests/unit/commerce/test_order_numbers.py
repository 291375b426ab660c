"""Order numbers: NK- and 8 characters of Crockford's base32 without look-alikes."""

import os
import re

from hypothesis import given
from hypothesis import strategies as st

from omnikanal.commerce import checkout

NUMBER = re.compile(r"^NK-[0-9A-HJKMNP-TV-Z]{8}$")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def crockford(bits: int) -> str:
    """The number of 40 bits, five at a time from the highest."""
    return "NK-" + "".join(CROCKFORD[(bits >> shift) & 31] for shift in range(35, -1, -5))


@given(st.binary(min_size=5, max_size=5))
def test_bulk_numbers_are_the_numbers_of_their_40_bits(random: bytes) -> None:
    """The bulk encoding (base32 in one C call) is Crockford's base32 of the 40 bits."""
    (number,) = checkout.numbers_of(random)
    assert number == crockford(int.from_bytes(random, "big"))


def test_bulk_numbers_take_five_bytes_each_in_order() -> None:
    random = os.urandom(5 * 1000)
    numbers = checkout.numbers_of(random)
    assert numbers == [
        crockford(int.from_bytes(random[at : at + 5], "big")) for at in range(0, 5000, 5)
    ]
    assert all(NUMBER.match(number) for number in numbers)
    assert all(NUMBER.match(number) for number in checkout.order_numbers(50))


def test_the_ends_of_the_range() -> None:
    assert checkout.numbers_of(bytes(5)) == ["NK-00000000"]
    assert checkout.numbers_of(b"\xff" * 5) == ["NK-ZZZZZZZZ"]
