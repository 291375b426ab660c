-- Every touch that matches a step: its event name (or an order), channel and properties.
CREATE OR REPLACE TEMP TABLE funnel_match AS
SELECT s.step, t.person, t.ts, t.channel, t.location
FROM touches t
JOIN funnel_steps s
  ON t.kind = s.kind
 AND (s.event IS NULL OR t.event = s.event)
 AND (s.channels IS NULL OR list_contains(s.channels, t.channel))
WHERE NOT EXISTS (
    SELECT 1 FROM funnel_filters f
    WHERE f.step = s.step
      AND (CASE WHEN f.key = 'location' THEN t.location
                ELSE json_extract_string(t.properties, '$."' || f.key || '"') END)
          IS DISTINCT FROM f.value
);

-- Step 1 is reached by every touch that matches it.
CREATE OR REPLACE TEMP TABLE funnel_reach AS
SELECT step, person, ts, channel, location, NULL::DOUBLE AS gap
FROM funnel_match WHERE step = 1;
