"""Money is an integer amount in minor units and an ISO 4217 currency, never a float."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from omnikanal.kit.limits import MinorUnits

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

# What an answer may carry: sums of stored amounts fit a signed 64-bit integer.
INT64_MAX = 2**63 - 1


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int = Field(
        ge=-INT64_MAX, le=INT64_MAX, description="Amount in minor units (öre, cents)."
    )
    currency: CurrencyCode = Field(description="ISO 4217 code, e.g. SEK.")


class MoneyIn(Money):
    """Money a client sends: a whole, non-negative amount that fits its 32-bit column."""

    amount: MinorUnits = Field(description="Amount in minor units (öre, cents).")
