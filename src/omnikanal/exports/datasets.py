"""What the warehouse sees: one explicit, stable Arrow schema per dataset.

Plain types that DuckDB, Spark and Trino read unchanged: ids as strings, times as
``timestamp[us, UTC]``, money as int64 minor units beside its currency, JSON documents
(properties, traits) as JSON text. A column is added at the end, never renamed or retyped.
"""

from dataclasses import dataclass

import pyarrow as pa  # type: ignore[import-untyped]

from omnikanal.exports.schemas import Kind

TIME = pa.timestamp("us", tz="UTC")
ID = pa.string()
TEXT = pa.string()
# JSON documents (properties, traits, identifiers) as JSON text: every engine reads a
# string, and each parses JSON its own way (json_extract, get_json_object, json_extract).
JSON = pa.string()
MONEY = pa.int64()


@dataclass(frozen=True)
class Dataset:
    """One folder of part files: ``<out>/<name>/date=YYYY-MM-DD/part-<run>.<ext>``."""

    name: str
    schema: pa.Schema
    # The UTC date of this column names a row's partition (Hive style ``date=``).
    date_column: str
    # Columns holding JSON documents: serialised to text before writing.
    json_columns: frozenset[str] = frozenset()


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, type_) for name, type_ in fields])


EVENTS = Dataset(
    name="events",
    schema=_schema(
        ("event_id", ID),
        ("message_id", TEXT),
        ("source_id", ID),
        ("channel", TEXT),
        ("location", TEXT),
        ("type", TEXT),
        ("name", TEXT),
        ("profile_id", ID),
        ("user_id", TEXT),
        ("anonymous_id", TEXT),
        ("timestamp", TIME),
        ("sent_at", TIME),
        ("received_at", TIME),
        ("properties", JSON),
        ("traits", JSON),
        ("context", JSON),
        ("exported_at", TIME),
    ),
    date_column="timestamp",
    json_columns=frozenset({"properties", "traits", "context"}),
)

ORDERS = Dataset(
    name="orders",
    schema=_schema(
        ("order_id", ID),
        ("number", TEXT),
        ("status", TEXT),
        ("channel", TEXT),
        ("location", TEXT),
        ("profile_id", ID),
        ("currency", TEXT),
        ("total", MONEY),
        ("vat_total", MONEY),
        ("fulfilment", TEXT),
        ("pickup_location", TEXT),
        ("external_reference", TEXT),
        ("placed_at", TIME),
        ("ready_at", TIME),
        ("handed_over_at", TIME),
        ("cancelled_at", TIME),
        ("updated_at", TIME),
        ("exported_at", TIME),
    ),
    date_column="placed_at",
)

ORDER_LINES = Dataset(
    name="order_lines",
    schema=_schema(
        ("line_id", ID),
        ("order_id", ID),
        ("position", pa.int32()),
        ("sku", TEXT),
        ("name", TEXT),
        ("quantity", pa.int32()),
        ("unit_price", MONEY),
        ("list_price", MONEY),
        ("book_unit_price", MONEY),
        ("promotion_code", TEXT),
        ("vat_rate_bp", pa.int32()),
        ("line_total", MONEY),
        ("vat_amount", MONEY),
        ("returned_quantity", pa.int32()),
        ("stock_location", TEXT),
        ("channel", TEXT),
        ("currency", TEXT),
        ("placed_at", TIME),
        ("exported_at", TIME),
    ),
    # With its order: an order's lines sit in the partition of the order.
    date_column="placed_at",
)

PROFILES = Dataset(
    name="profiles",
    schema=_schema(
        ("profile_id", ID),
        ("merged_into", ID),
        ("created_at", TIME),
        ("first_seen", TIME),
        ("last_seen", TIME),
        ("changed_at", TIME),
        ("identifiers", JSON),
        ("traits", JSON),
        ("computed_traits", JSON),
        ("channels", JSON),
        ("exported_at", TIME),
    ),
    # The day of the profile's last activity (or creation): where its latest copy is.
    date_column="changed_at",
    json_columns=frozenset({"identifiers", "traits", "computed_traits", "channels"}),
)

DATASETS: dict[Kind, tuple[Dataset, ...]] = {
    Kind.EVENTS: (EVENTS,),
    Kind.ORDERS: (ORDERS, ORDER_LINES),
    Kind.PROFILES: (PROFILES,),
}
