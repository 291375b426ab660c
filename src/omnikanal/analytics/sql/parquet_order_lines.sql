-- Lines travel with each copy of their order: the latest copy of each line counts.
CREATE OR REPLACE TABLE raw_lines AS
SELECT order_id, sku, quantity::BIGINT AS quantity, line_total
FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
QUALIFY row_number() OVER (PARTITION BY line_id ORDER BY exported_at DESC) = 1;
