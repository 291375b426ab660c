-- Credit for each converted journey's order, per touchpoint: first touch, last touch,
-- linear, and position-based (40 % first, 40 % last, 20 % shared by the middle).
WITH points AS (
    SELECT DISTINCT ON (t.person, t.journey, t.position)
           t.person, t.journey, t.position, t.touchpoint, j.touchpoints AS n, j.revenue
    FROM journey_touches t JOIN journeys j USING (person, journey)
    WHERE j.converted
    ORDER BY t.person, t.journey, t.position, t.ts
), credited AS (
    SELECT touchpoint, revenue,
           (position = 1)::DOUBLE AS first_touch,
           (position = n)::DOUBLE AS last_touch,
           1.0 / n AS linear,
           CASE WHEN n = 1 THEN 1.0
                WHEN n = 2 THEN 0.5
                WHEN position = 1 OR position = n THEN 0.4
                ELSE 0.2 / (n - 2) END AS position_based
    FROM points
)
SELECT touchpoint,
       sum(first_touch) AS first_touch, sum(last_touch) AS last_touch,
       sum(linear) AS linear, sum(position_based) AS position_based,
       sum(first_touch * revenue) AS first_touch_revenue,
       sum(last_touch * revenue) AS last_touch_revenue,
       sum(linear * revenue) AS linear_revenue,
       sum(position_based * revenue) AS position_based_revenue
FROM credited
GROUP BY touchpoint
ORDER BY position_based DESC, touchpoint;
