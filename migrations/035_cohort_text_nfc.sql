-- Cohort ids, names and descriptions are kept in Unicode NFC from now on, and looked up in NFC
-- (docs/reference/cohort-import.md#cohort-ids-and-names). Rows written before are normalized here.
-- An id whose NFC form another cohort of the same workspace and partner already holds (or an earlier
-- row of the same group will take) keeps its old spelling: nothing is merged behind the owner's back.
UPDATE cohorts c SET partner_cohort_id = normalize(c.partner_cohort_id, NFC)
 WHERE c.partner_cohort_id IS NOT NFC NORMALIZED
   AND NOT EXISTS (
     SELECT 1 FROM cohorts o
      WHERE o.workspace_id = c.workspace_id AND o.partner = c.partner AND o.id <> c.id
        AND normalize(o.partner_cohort_id, NFC) = normalize(c.partner_cohort_id, NFC)
        AND (o.partner_cohort_id IS NFC NORMALIZED OR o.id < c.id));

UPDATE cohorts SET name = normalize(name, NFC) WHERE name IS NOT NFC NORMALIZED;
UPDATE cohorts SET description = normalize(description, NFC) WHERE description IS NOT NFC NORMALIZED;
