-- The latest copy of each profile; merged-away ones name the profile they joined.
CREATE OR REPLACE TABLE merge_links AS
SELECT profile_id, merged_into FROM (
    SELECT profile_id, merged_into
    FROM read_parquet($files, hive_partitioning = false, union_by_name = true)
    QUALIFY row_number() OVER (PARTITION BY profile_id ORDER BY changed_at DESC, exported_at DESC) = 1
) WHERE merged_into IS NOT NULL;
