-- Per step: the people who reached it, and the median time from the step before (each
-- person's first touch at the step).
SELECT step, count(*) AS reached, median(gap) AS median_seconds
FROM funnel_firsts
GROUP BY step
ORDER BY step;
