-- Each person's first touch at each step reached (its channel, store and the gap from the
-- step before), then each person once: their path of channels, the last step reached and
-- their store (the first touch in the funnel that has one). The reports below read these.
-- {path} joins each step's channel with " > " (one max(...) FILTER (WHERE step = n) per
-- step, from funnels.py): a pivot, much cheaper than an ordered string_agg.
CREATE OR REPLACE TEMP TABLE funnel_firsts AS
SELECT person, step, arg_min(channel, ts) AS channel, arg_min(gap, ts) AS gap,
       arg_min(location, ts) FILTER (WHERE location IS NOT NULL) AS location
FROM funnel_reach
GROUP BY person, step;

CREATE OR REPLACE TEMP TABLE funnel_people AS
SELECT person, {path} AS path, max(step) AS last_step,
       arg_min(location, step) FILTER (WHERE location IS NOT NULL) AS store
FROM funnel_firsts
GROUP BY person;
