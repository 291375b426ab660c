-- The commonest paths, with how many ended in an order and the revenue of those.
SELECT path, count(*) AS journeys, count(*) FILTER (WHERE converted) AS converted,
       sum(revenue) AS revenue
FROM journeys
GROUP BY path
ORDER BY journeys DESC, path
LIMIT $limit;
