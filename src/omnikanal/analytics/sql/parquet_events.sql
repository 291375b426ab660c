-- Events are exported once each.
CREATE OR REPLACE TABLE raw_events AS
SELECT event_id, profile_id, channel, location, name, "timestamp", properties
FROM read_parquet($files, hive_partitioning = false, union_by_name = true);
