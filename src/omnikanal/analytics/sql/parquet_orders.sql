-- An order is exported again whenever it changes: its latest copy counts.
CREATE OR REPLACE TABLE raw_orders AS
SELECT order_id, profile_id, status, channel, location, pickup_location, fulfilment,
       total, currency, placed_at, handed_over_at
FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC, exported_at DESC) = 1;
