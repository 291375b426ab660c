-- Per step: the people who reached it, and the median time from the step before (each
-- person's first touch at the step).
SELECT step, count(*) AS reached, median(gap) AS median_seconds
FROM (SELECT step, person, arg_min(gap, ts) AS gap FROM funnel_reach GROUP BY step, person)
GROUP BY step
ORDER BY step;
