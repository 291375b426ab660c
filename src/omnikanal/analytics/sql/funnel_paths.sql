-- Each person's channels, one per step reached (their first touch there), as a path.
SELECT path, count(*) AS entered, count(*) FILTER (WHERE last_step = $steps) AS completed
FROM funnel_people
GROUP BY path
ORDER BY entered DESC, path
LIMIT $limit;
