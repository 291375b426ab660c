-- NPS answers (0-10) by $group: promoters (9-10) and detractors (0-6).
SELECT {group} AS key, count(*) AS answered,
       count(*) FILTER (WHERE score >= 9) AS promoters,
       count(*) FILTER (WHERE score <= 6) AS detractors,
       avg(score) AS mean
FROM satisfaction
WHERE kind = $kind
GROUP BY 1
ORDER BY 1;
