-- Omnichannel people (touched more than one channel, orders included) against people on
-- one: spend per store visit (till order), per online order, and per customer who bought.
WITH people AS (
    SELECT person, count(DISTINCT channel) > 1 AS omnichannel FROM touches GROUP BY person
), measured AS (
    SELECT 'store_visit' AS measure, o.person, o.total::DOUBLE AS value
    FROM orders o WHERE o.channel = $store_channel
    UNION ALL
    SELECT 'online_order', o.person, o.total::DOUBLE FROM orders o
    WHERE list_contains($online, o.channel)
    UNION ALL
    SELECT 'customer', o.person, sum(o.total)::DOUBLE FROM orders o GROUP BY o.person
)
SELECT m.measure, p.omnichannel, count(*) AS n, avg(m.value) AS mean,
       stddev_samp(m.value) AS sd, count(DISTINCT m.person) AS people
FROM measured m JOIN people p USING (person)
GROUP BY m.measure, p.omnichannel
ORDER BY m.measure, p.omnichannel;
