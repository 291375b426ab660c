"""Money is an integer amount in minor units and an ISO 4217 currency, never a float."""

from typing import Annotated

import pycountry
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from omnikanal.kit.codes import Listed
from omnikanal.kit.limits import MinorUnits

# Every ISO 4217 code: currencies, funds and precious metals (pycountry's data, from the
# iso-codes project).
CURRENCIES = frozenset(currency.alpha_3 for currency in pycountry.currencies)
CURRENCY_SHAPE = r"^[A-Z]{3}$"

# What a client sends; a typo (SKE) would open a currency of its own.
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=CURRENCY_SHAPE),
    Listed(CURRENCIES, "an ISO 4217 currency code"),
]
# What answers carry: a code as stored (one stored before the list was checked still reads).
StoredCurrencyCode = Annotated[str, StringConstraints(pattern=CURRENCY_SHAPE)]

# What an answer may carry: sums of stored amounts fit a signed 64-bit integer.
INT64_MAX = 2**63 - 1


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int = Field(
        ge=-INT64_MAX, le=INT64_MAX, description="Amount in minor units (öre, cents)."
    )
    currency: StoredCurrencyCode = Field(description="ISO 4217 code, e.g. SEK.")


class MoneyIn(Money):
    """Money a client sends: a whole, non-negative amount that fits its 32-bit column."""

    amount: MinorUnits = Field(description="Amount in minor units (öre, cents).")
    currency: CurrencyCode = Field(description="ISO 4217 code, e.g. SEK.")
