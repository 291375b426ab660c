-- Each person's store: the location of their first touch in the funnel that has one.
WITH people AS (
    SELECT person, max(step) AS last_step,
           arg_min(location, [step, epoch_us(ts)]) FILTER (WHERE location IS NOT NULL) AS store
    FROM funnel_reach GROUP BY person
)
SELECT coalesce(store, '(online only)') AS store, count(*) AS entered,
       count(*) FILTER (WHERE last_step = $steps) AS completed
FROM people
GROUP BY 1
ORDER BY entered DESC, store
LIMIT $limit;
