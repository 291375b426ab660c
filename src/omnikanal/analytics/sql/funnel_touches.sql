-- The touches that match one step: an event by name (or an order), on its channels, with
-- its property filters ({filters}: "AND <property> = $f<n>" for each, from funnels.py).
-- Read straight from touches, so each step's predicates reach the scan.
SELECT person, ts, channel, location
FROM touches
WHERE kind = $kind
  AND ($event IS NULL OR event = $event)
  AND ($channels IS NULL OR list_contains($channels, channel))
  {filters}
