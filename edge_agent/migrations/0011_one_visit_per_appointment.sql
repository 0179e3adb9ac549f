-- One visit per appointment (issue #13, failure 6): a site (this database) holds at most one active
-- arrival per appointment, enforced by SQLite itself, not only by the check-in code. "Active" is every
-- status but no_show: a patient marked no-show who turns up after all checks in again; a finished
-- visit stays the visit (a second arrival would be a second Encounter at central).
-- `duplicate_of` names the earlier arrival a later one repeats. Only this migration sets it, on the
-- duplicates stored before the constraint existed (rows kept as they were, visible to staff); new
-- check-ins for an arrived appointment return the existing ticket or merge into it (edge_agent/checkin.py).
ALTER TABLE arrivals ADD COLUMN duplicate_of TEXT;

UPDATE arrivals SET duplicate_of = (
    SELECT earlier.checkin_id FROM arrivals AS earlier
    WHERE earlier.appointment_id = arrivals.appointment_id AND earlier.status != 'no_show'
      AND earlier.rowid < arrivals.rowid
    ORDER BY earlier.rowid LIMIT 1
)
WHERE appointment_id IS NOT NULL AND status != 'no_show' AND EXISTS (
    SELECT 1 FROM arrivals AS earlier
    WHERE earlier.appointment_id = arrivals.appointment_id AND earlier.status != 'no_show'
      AND earlier.rowid < arrivals.rowid
);

CREATE UNIQUE INDEX arrivals_one_active_visit ON arrivals(appointment_id)
    WHERE appointment_id IS NOT NULL AND status != 'no_show' AND duplicate_of IS NULL;
