-- Rates within 7, 14 and 30 days, grouped by one column of $source.
SELECT {group} AS key, count(*) AS total,
       count(*) FILTER (WHERE days_before <= 7) AS within_7,
       count(*) FILTER (WHERE days_before <= 14) AS within_14,
       count(*) FILTER (WHERE days_before <= 30) AS within_30
FROM {source}
GROUP BY 1
ORDER BY total DESC, key
LIMIT $limit;
