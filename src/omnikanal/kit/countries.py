"""Countries are ISO 3166-1 alpha-2 codes (SE, DK), checked against the list."""

from typing import Annotated

import pycountry
from pydantic import AfterValidator, StringConstraints, WithJsonSchema

# Every officially assigned ISO 3166-1 alpha-2 code (pycountry's data, from the iso-codes
# project), and Kosovo's XK, user-assigned but what carriers and the EU use.
COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries) | {"XK"}


def _known_country(code: str) -> str:
    """The code, if ISO 3166-1 lists it: a typo (SW for SE) is no country to ship to."""
    if code not in COUNTRIES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return code


# What a client sends (addresses of deliveries and stores): a code of the list, which the
# schema enumerates.
CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    AfterValidator(_known_country),
    WithJsonSchema({"type": "string", "enum": sorted(COUNTRIES)}),
]
