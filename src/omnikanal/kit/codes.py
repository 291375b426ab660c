"""Codes from a published list (ISO 4217 currencies, ISO 3166 countries), checked against it."""

from dataclasses import dataclass
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema


@dataclass(frozen=True)
class Listed:
    """``Annotated[str, Listed(codes, "an ISO 4217 currency code")]``: a code the list has
    (else the field's error says "not" and what it should be); the schema enumerates them."""

    codes: frozenset[str]
    what: str

    def check(self, code: str) -> str:
        if code not in self.codes:
            raise ValueError(f"not {self.what}")
        return code

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": sorted(self.codes)}
