-- Triage: the fields triage fills beyond the foundation's (score, needs, target time, its
-- explanation), what staff corrected, deadline escalation, and duplicates joining a case.

ALTER TABLE cases
  ADD COLUMN received_at      timestamptz NOT NULL DEFAULT now(),  -- when the request arrived: triage's "now"
  ADD COLUMN priority_score   smallint NOT NULL DEFAULT 0 CHECK (priority_score BETWEEN 0 AND 100),
  ADD COLUMN needs            jsonb NOT NULL DEFAULT '{}',         -- kind of voice needed: no personal data
  ADD COLUMN target_at        timestamptz,                         -- the desk's own target for a first offer
  ADD COLUMN escalation       text NOT NULL DEFAULT 'none'
                              CHECK (escalation IN ('none', 'half', 'four_fifths', 'overdue')),
  ADD COLUMN corrected_fields text[] NOT NULL DEFAULT '{}',        -- triage fields staff set: re-triage keeps them
  ADD COLUMN triage_explain   jsonb NOT NULL DEFAULT '[]';         -- taxonomy terms and date words only

UPDATE cases c SET received_at = i.received_at FROM intakes i WHERE i.id = c.intake_id;

-- Open cases still waiting for an offer, by the time they next need looking at.
CREATE INDEX cases_escalation_due ON cases (target_at)
  WHERE status IN ('new', 'triaged') AND escalation <> 'overdue';

-- Every processed intake names its case: the one it opened, or the one it joined (a duplicate).
ALTER TABLE intakes ADD COLUMN case_id bigint REFERENCES cases (id);
UPDATE intakes i SET case_id = c.id FROM cases c WHERE c.intake_id = i.id;

-- Further messages of a case (a duplicate request now; replies later), sealed like the request.
CREATE TABLE case_messages (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id    bigint NOT NULL REFERENCES cases (id),
  intake_id  text UNIQUE REFERENCES intakes (id),
  direction  text NOT NULL CHECK (direction IN ('in', 'out')),
  source     text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now(),
  sealed     bytea NOT NULL                -- bound to case_messages.sealed:<intake id>
);
CREATE INDEX case_messages_case ON case_messages (case_id, id);
