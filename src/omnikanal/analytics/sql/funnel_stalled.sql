-- The people who reached step $step - 1 and not step $step.
SELECT person FROM funnel_reach WHERE step = $step - 1
EXCEPT
SELECT person FROM funnel_reach WHERE step = $step
ORDER BY person;
