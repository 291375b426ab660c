-- As funnel_step_any, with the touch before on another channel. The latest earlier touch
-- p is on another channel, or, when it is on this one, the latest touch on another channel
-- is the one just before p's run of same-channel touches (other_ts).
INSERT INTO funnel_reach
WITH prev AS (
    SELECT person, ts, channel, lag_ts, starts FROM (
        SELECT person, ts, channel,
               channel IS DISTINCT FROM lag(channel) OVER w AS starts,
               lag(ts) OVER w AS lag_ts
        FROM funnel_reach WHERE step = $step - 1
        WINDOW w AS (PARTITION BY person ORDER BY ts, channel)
    )
), runs AS (
    SELECT person, ts, channel,
           max(CASE WHEN starts THEN lag_ts END) OVER (PARTITION BY person, run) AS other_ts
    FROM (
        SELECT *, sum(starts::INTEGER) OVER (
            PARTITION BY person ORDER BY ts, channel ROWS UNBOUNDED PRECEDING) AS run
        FROM prev
    )
), joined AS (
    SELECT m.person, m.ts, m.channel, m.location,
           CASE WHEN p.channel <> m.channel THEN p.ts ELSE p.other_ts END AS from_ts
    FROM ({touches}) m
    ASOF JOIN runs p ON m.person = p.person AND m.ts > p.ts
)
SELECT $step, person, ts, channel, location, (epoch_us(ts) - epoch_us(from_ts)) / 1e6
FROM joined
WHERE from_ts IS NOT NULL
  AND ($within_us IS NULL OR epoch_us(ts) - epoch_us(from_ts) <= $within_us);
