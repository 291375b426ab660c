-- Each person's channels, one per step reached (their first touch there), as a path.
WITH firsts AS (
    SELECT person, step, arg_min(channel, ts) AS channel
    FROM funnel_reach GROUP BY person, step
), people AS (
    SELECT person, string_agg(channel, ' > ' ORDER BY step) AS path, max(step) AS last_step
    FROM firsts GROUP BY person
)
SELECT path, count(*) AS entered, count(*) FILTER (WHERE last_step = $steps) AS completed
FROM people
GROUP BY path
ORDER BY entered DESC, path
LIMIT $limit;
