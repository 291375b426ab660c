-- Online orders, each with the days since the same person's latest in-store touch before
-- it (a till purchase, a click-and-collect pickup, a return taken at a store, a lookup by
-- store staff, any event from a store's channel or a store visit) and that touch's store.
CREATE OR REPLACE TEMP TABLE showrooming AS
WITH store_touches AS (
    SELECT person, ts, location FROM orders WHERE channel = $store_channel
    UNION ALL
    SELECT person, handed_over_at, location FROM orders
    WHERE fulfilment = 'click_and_collect' AND handed_over_at IS NOT NULL
    UNION ALL
    SELECT person, ts, location FROM touches
    WHERE kind = 'event' AND (channel = $store_channel OR event IN ('Store Visited', 'Store Visit'))
    UNION ALL
    SELECT person, ts, location FROM store_touches
), online AS (
    SELECT order_id, person, ts FROM orders WHERE list_contains($online, channel)
)
SELECT o.order_id, strftime(o.ts, '%Y-%m') AS month,
       coalesce(s.location, '(none)') AS store,
       (epoch_us(o.ts) - epoch_us(s.ts)) / 86400e6 AS days_before
FROM online o
ASOF LEFT JOIN store_touches s ON o.person = s.person AND o.ts > s.ts;
