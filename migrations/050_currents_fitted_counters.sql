-- Changes made to sent events to fit Mixpanel's limits (docs/reference/currents.md §2.4) are counted
-- per connector, event type and reason in currents_counters, under the outcome 'fitted'.
ALTER TABLE currents_counters DROP CONSTRAINT currents_counters_outcome_check;
ALTER TABLE currents_counters ADD CONSTRAINT currents_counters_outcome_check
  CHECK (outcome IN ('sent', 'skipped', 'dead_lettered', 'fitted'));
