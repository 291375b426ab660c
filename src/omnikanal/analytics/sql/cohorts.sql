-- Monthly cohorts by the month and channel of each person's first order; for each month
-- after, how many of the cohort ordered again.
WITH firsts AS (
    SELECT person, min(ts) AS first_ts, arg_min(channel, ts) AS first_channel
    FROM orders GROUP BY person
), active AS (
    SELECT DISTINCT o.person,
           date_diff('month', date_trunc('month', f.first_ts), date_trunc('month', o.ts)) AS age
    FROM orders o JOIN firsts f USING (person)
)
SELECT strftime(f.first_ts, '%Y-%m') AS cohort, f.first_channel, a.age,
       count(*) AS active
FROM active a JOIN firsts f USING (person)
WHERE a.age <= $months
GROUP BY ALL
ORDER BY cohort, f.first_channel, a.age;
