-- The raw shapes, empty: what a dataset missing from an export reads as.
CREATE OR REPLACE TABLE raw_events (event_id VARCHAR, profile_id VARCHAR, channel VARCHAR,
    location VARCHAR, name VARCHAR, "timestamp" TIMESTAMPTZ, properties VARCHAR);
CREATE OR REPLACE TABLE raw_orders (order_id VARCHAR, profile_id VARCHAR, status VARCHAR,
    channel VARCHAR, location VARCHAR, pickup_location VARCHAR, fulfilment VARCHAR,
    total BIGINT, currency VARCHAR, placed_at TIMESTAMPTZ, handed_over_at TIMESTAMPTZ);
CREATE OR REPLACE TABLE raw_lines (order_id VARCHAR, sku VARCHAR, quantity BIGINT,
    line_total BIGINT);
CREATE OR REPLACE TABLE merge_links (profile_id VARCHAR, merged_into VARCHAR);
CREATE OR REPLACE TABLE categories (sku VARCHAR, category VARCHAR);
CREATE OR REPLACE TABLE raw_satisfaction (kind VARCHAR, profile_id VARCHAR, channel VARCHAR,
    location VARCHAR, score BIGINT, "at" TIMESTAMPTZ);
CREATE OR REPLACE TABLE raw_store_touches (kind VARCHAR, profile_id VARCHAR,
    location VARCHAR, "at" TIMESTAMPTZ);
