-- What every analysis reads, whatever the source (the hub's database or the Parquet
-- export): one row per person's touch, with merged people counted once.

-- Every merged-away profile to the profile that survives it, however long the chain.
CREATE OR REPLACE TABLE person_of AS
WITH RECURSIVE chain(profile_id, live_id, depth) AS (
    SELECT profile_id, merged_into, 1 FROM merge_links
    UNION ALL
    SELECT c.profile_id, m.merged_into, c.depth + 1
    FROM chain c JOIN merge_links m ON m.profile_id = c.live_id
    WHERE c.depth < 64
)
SELECT profile_id, arg_max(live_id, depth) AS live_id FROM chain GROUP BY profile_id;

CREATE OR REPLACE TABLE orders AS
SELECT o.order_id,
       coalesce(p.live_id, o.profile_id) AS person,
       o.channel,
       coalesce(o.location, o.pickup_location) AS location,
       o.fulfilment,
       o.total,
       o.currency,
       o.placed_at::TIMESTAMP AS ts,
       o.handed_over_at::TIMESTAMP AS handed_over_at
FROM raw_orders o LEFT JOIN person_of p ON p.profile_id = o.profile_id
WHERE o.profile_id IS NOT NULL AND o.status <> 'cancelled';

CREATE OR REPLACE TABLE order_lines AS
SELECT l.order_id, o.person, o.channel, o.location, o.ts, l.sku,
       coalesce(c.category, '(none)') AS category, l.quantity, l.line_total
FROM raw_lines l
JOIN orders o USING (order_id)
LEFT JOIN categories c USING (sku);

-- Touches: the events channels sent, and the orders the hub took (kind 'order'). The
-- "Order Completed" event the hub puts on a person's timeline for each of its orders is
-- that order again: left out, or every purchase would count twice on a path.
CREATE OR REPLACE TABLE touches AS
SELECT coalesce(p.live_id, e.profile_id) AS person,
       e.timestamp::TIMESTAMP AS ts,
       e.channel,
       e.location,
       'event' AS kind,
       e.name AS event,
       e.properties,
       NULL::BIGINT AS amount
FROM raw_events e LEFT JOIN person_of p ON p.profile_id = e.profile_id
WHERE e.name IS DISTINCT FROM 'Order Completed'
   OR json_extract_string(e.properties, '$.order_id') NOT IN (SELECT order_id FROM raw_orders)
   OR json_extract_string(e.properties, '$.order_id') IS NULL
UNION ALL
SELECT person, ts, channel, location, 'order', NULL,
       json_object('order_id', order_id, 'fulfilment', fulfilment), total
FROM orders;

-- An answer's store: the one it names (an NPS answer: the person's favourite store then),
-- else the store the person last bought in or collected from before answering (a support
-- conversation names none).
CREATE OR REPLACE TABLE satisfaction AS
WITH answers AS (
    SELECT s.kind, coalesce(p.live_id, s.profile_id) AS person, s.channel, s.location,
           s.score, s."at"::TIMESTAMP AS ts
    FROM raw_satisfaction s LEFT JOIN person_of p ON p.profile_id = s.profile_id
), store_orders AS (
    SELECT person, ts, location FROM orders WHERE location IS NOT NULL
)
SELECT a.kind, a.person, a.channel, coalesce(a.location, v.location, '(none)') AS store,
       a.score, a.ts, strftime(a.ts, '%Y-%m') AS month
FROM answers a ASOF LEFT JOIN store_orders v ON a.person = v.person AND a.ts >= v.ts;

-- Store visits the orders and events do not show: returns taken and staff lookups.
CREATE OR REPLACE TABLE store_touches AS
SELECT s.kind, coalesce(p.live_id, s.profile_id) AS person, s.location, s."at"::TIMESTAMP AS ts
FROM raw_store_touches s LEFT JOIN person_of p ON p.profile_id = s.profile_id
WHERE s.profile_id IS NOT NULL;
