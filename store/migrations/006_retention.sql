-- Erasure and retention of personal data in cases: a case's request and messages can be purged
-- (a journalist's erasure request, or the retention periods), leaving the case's non-personal
-- fields and timeline for statistics. Outbound messages keep the desk's own Message-ID, which
-- names nothing personal, because their seal is bound to it: without it they could never be
-- opened again (subject access, key rotation).

ALTER TABLE cases
  ALTER COLUMN request_sealed DROP NOT NULL,
  ADD COLUMN personal_data_purged_at timestamptz,
  ADD CONSTRAINT cases_purged_request CHECK ((request_sealed IS NULL) = (personal_data_purged_at IS NOT NULL));

ALTER TABLE case_messages
  ALTER COLUMN sealed DROP NOT NULL,
  ADD COLUMN message_id text;  -- outbound rows: the desk's Message-ID, the seal's binding

-- The retention sweeps: closed cases by when they last changed, every case by when it arrived.
CREATE INDEX cases_closed_unpurged ON cases (updated_at)
  WHERE personal_data_purged_at IS NULL AND status IN ('fulfilled', 'no_match', 'declined', 'withdrawn');
CREATE INDEX cases_unpurged_received ON cases (received_at) WHERE personal_data_purged_at IS NULL;

-- Consents whose evidence is still held, by when they ended.
CREATE INDEX consents_evidence_held ON consents (coalesce(withdrawn_at, expires_at)) WHERE evidence_sealed IS NOT NULL;
