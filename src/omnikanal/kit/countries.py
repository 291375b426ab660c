"""Countries are ISO 3166-1 alpha-2 codes (SE, DK), checked against the list."""

from typing import Annotated

import pycountry
from pydantic import StringConstraints

from omnikanal.kit.codes import Listed

# Every officially assigned ISO 3166-1 alpha-2 code (pycountry's data, from the iso-codes
# project), and Kosovo's XK, user-assigned but what carriers and the EU use.
COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries) | {"XK"}

# What a client sends (addresses of deliveries and stores); a typo (SW for SE) is no
# country to ship to.
CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    Listed(COUNTRIES, "an ISO 3166-1 alpha-2 country code"),
]
