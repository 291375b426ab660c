-- Step 1 is reached by every touch that matches it.
CREATE OR REPLACE TEMP TABLE funnel_reach AS
SELECT 1 AS step, person, ts, channel, location, NULL::DOUBLE AS gap
FROM ({touches}) m;
