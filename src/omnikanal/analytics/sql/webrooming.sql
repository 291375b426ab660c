-- Till purchase lines, each with the days since the same person last viewed that SKU
-- (or, by category, anything in its category) online, at or before the purchase.
CREATE OR REPLACE TEMP TABLE webrooming AS
WITH views AS (
    SELECT t.person, t.ts,
           coalesce(json_extract_string(t.properties, '$.sku'),
                    json_extract_string(t.properties, '$.product_id')) AS sku,
           json_extract_string(t.properties, '$.category') AS category
    FROM touches t
    WHERE t.kind = 'event' AND t.event = 'Product Viewed' AND list_contains($online, t.channel)
), seen AS (
    SELECT v.person, v.ts, v.sku, coalesce(v.category, c.category) AS category
    FROM views v LEFT JOIN categories c USING (sku)
), till AS (
    SELECT row_number() OVER () AS line, * FROM order_lines WHERE channel = $store_channel
), matched AS (
    SELECT l.line, max(s.ts) AS last_view
    FROM till l JOIN seen s
      ON s.person = l.person AND s.ts <= l.ts
     AND (CASE WHEN $by_category THEN s.category = l.category ELSE s.sku = l.sku END)
    GROUP BY l.line
)
SELECT l.sku, l.category, coalesce(l.location, '(none)') AS store,
       strftime(l.ts, '%Y-%m') AS month,
       (epoch_us(l.ts) - epoch_us(m.last_view)) / 86400e6 AS days_before
FROM till l LEFT JOIN matched m USING (line);
