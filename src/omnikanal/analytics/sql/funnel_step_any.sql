-- A touch reaches step $step when a touch that reached the step before came earlier,
-- within the window; the latest such one gives the shortest gap (ASOF join).
INSERT INTO funnel_reach
SELECT $step, m.person, m.ts, m.channel, m.location, (epoch_us(m.ts) - epoch_us(p.ts)) / 1e6
FROM ({touches}) m
ASOF JOIN (SELECT person, ts FROM funnel_reach WHERE step = $step - 1) p
  ON m.person = p.person AND m.ts > p.ts
WHERE $within_us IS NULL OR epoch_us(m.ts) - epoch_us(p.ts) <= $within_us;
