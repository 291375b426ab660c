-- Satisfaction scores (1-5) by $group: satisfied (4 or 5) of those answered, and the mean.
SELECT {group} AS key, count(*) AS answered, count(*) FILTER (WHERE score >= 4) AS satisfied,
       avg(score) AS mean, stddev_samp(score) AS sd
FROM satisfaction
WHERE kind = $kind
GROUP BY 1
ORDER BY 1;
