-- Journeys: each person's touches split after every order. A journey ends in an order
-- (converted) or is still open. Touchpoints are the channels in turn, a store by its name
-- (stores count as touchpoints), repeats in a row collapsed into one. Touches at the same
-- moment (two orders on one day) are taken in one fixed order: the same paths every run.
CREATE OR REPLACE TEMP TABLE journey_touches AS
WITH pointed AS (
    SELECT person, ts, kind, amount,
           CASE WHEN channel = $store_channel AND location IS NOT NULL
                THEN 'store ' || location ELSE channel END AS touchpoint
    FROM touches
), numbered AS (
    SELECT *,
           coalesce(sum((kind = 'order')::INTEGER) OVER (
               PARTITION BY person ORDER BY ts, kind = 'order', touchpoint, amount
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS journey
    FROM pointed
), marked AS (
    SELECT *, touchpoint IS DISTINCT FROM lag(touchpoint) OVER (
                  PARTITION BY person, journey
                  ORDER BY ts, kind = 'order', touchpoint, amount) AS fresh
    FROM numbered
)
SELECT person, journey, ts, touchpoint, kind, amount,
       sum(fresh::INTEGER) OVER (
           PARTITION BY person, journey ORDER BY ts, kind = 'order', touchpoint, amount
           ROWS UNBOUNDED PRECEDING) AS position
FROM marked;

CREATE OR REPLACE TEMP TABLE journeys AS
SELECT person, journey,
       string_agg(touchpoint, ' > ' ORDER BY ts, kind = 'order', touchpoint, amount)
           FILTER (WHERE fresh_point)
           AS path,
       max(position) AS touchpoints,
       bool_or(kind = 'order') AS converted,
       coalesce(sum(amount) FILTER (WHERE kind = 'order'), 0) AS revenue
FROM (
    SELECT *, position IS DISTINCT FROM lag(position) OVER (
                  PARTITION BY person, journey
                  ORDER BY ts, kind = 'order', touchpoint, amount) AS fresh_point
    FROM journey_touches
)
GROUP BY person, journey;
