-- As funnel_step_any, with the touch before on the same channel.
INSERT INTO funnel_reach
SELECT $step, m.person, m.ts, m.channel, m.location, (epoch_us(m.ts) - epoch_us(p.ts)) / 1e6
FROM ({touches}) m
ASOF JOIN (SELECT person, ts, channel FROM funnel_reach WHERE step = $step - 1) p
  ON m.person = p.person AND m.channel = p.channel AND m.ts > p.ts
WHERE $within_us IS NULL OR epoch_us(m.ts) - epoch_us(p.ts) <= $within_us;
