"""Money is an integer amount in minor units and an ISO 4217 currency, never a float."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount: int = Field(description="Amount in minor units (öre, cents).")
    currency: CurrencyCode = Field(description="ISO 4217 code, e.g. SEK.")
