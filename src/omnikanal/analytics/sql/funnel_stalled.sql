-- The people who reached step $step - 1 and not step $step (reaching a step needs the one
-- before, so: the last step they reached is the one before); $limit of them, or all.
SELECT person FROM funnel_people WHERE last_step = $step - 1 ORDER BY person
LIMIT $limit;
