-- Each person's store: the location of their first touch in the funnel that has one.
SELECT coalesce(store, '(online only)') AS store, count(*) AS entered,
       count(*) FILTER (WHERE last_step = $steps) AS completed
FROM funnel_people
GROUP BY 1
ORDER BY entered DESC, store
LIMIT $limit;
