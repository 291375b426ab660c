-- Per person, from their orders up to $end (a date, included): repeat purchases x (days
-- with an order after the first), t_x and T in weeks from the first purchase, and the
-- mean value of the repeat purchase days (minor units).
WITH days AS (
    SELECT person, ts::DATE AS day, sum(total) AS value
    FROM orders WHERE ts::DATE <= $end::DATE
    GROUP BY person, ts::DATE
), firsts AS (
    SELECT person, min(day) AS first FROM days GROUP BY person
)
SELECT d.person,
       count(*) - 1 AS x,
       date_diff('day', f.first, max(d.day)) / 7.0 AS t_x,
       date_diff('day', f.first, $end::DATE) / 7.0 AS big_t,
       coalesce(avg(d.value) FILTER (WHERE d.day > f.first), 0)::DOUBLE AS mean_value
FROM days d JOIN firsts f USING (person)
GROUP BY d.person, f.first
ORDER BY d.person;
