-- When each patient last confirmed their details on file at the kiosk (issue #12): "Is this still
-- right?" is due again only `[kiosk] review_details_every_days` later (edge_agent/details_review.py).
-- Keyed by the agent's keyed hash of the patient (edge_agent/matching.py patient_key): no name, no
-- birth date, no detail itself. Written in the check-in's own transaction.
CREATE TABLE details_confirmed (
    patient_key  TEXT PRIMARY KEY,
    confirmed_on TEXT NOT NULL,  -- the site-local day, ISO "YYYY-MM-DD"
    hints_digest TEXT NOT NULL   -- keyed digest of the hints confirmed: a changed file is asked again
);
