-- The staff dashboard: who a case is assigned to, internal notes on a case (personal data, so
-- sealed like the request), and indexes for the queue's filters, urgency order and status counts.

ALTER TABLE cases ADD COLUMN assignee_user_id bigint REFERENCES users (id);  -- NULL: nobody

-- Staff's own words about a case. They may name the journalist or a spokesperson, so the text is
-- sealed by the key ring, bound to its row (case_notes.text:<id>), and cleared when the case's
-- personal data is purged (erasure or retention); the row stays, so the timeline's note_added
-- events keep pointing at something.
CREATE TABLE case_notes (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id         bigint NOT NULL REFERENCES cases (id),
  author_user_id  bigint NOT NULL REFERENCES users (id),
  at              timestamptz NOT NULL DEFAULT now(),
  text_sealed     bytea,                                  -- NULL once purged
  purged_at       timestamptz,
  CONSTRAINT case_notes_purged_text CHECK ((text_sealed IS NULL) = (purged_at IS NOT NULL))
);
CREATE INDEX case_notes_case ON case_notes (case_id, id);

-- sort=urgency: priority (1 urgent .. 4 low), deadline soonest first with none last (the
-- default for an ascending btree column), then the oldest request. One index over every case,
-- and a smaller one over the open queue (open=1), which replaces 001's (priority, deadline).
CREATE INDEX cases_urgency ON cases (priority, deadline, received_at, id);
DROP INDEX cases_open_queue;
CREATE INDEX cases_open_urgency ON cases (priority, deadline, received_at, id)
  WHERE status IN ('new', 'triaged', 'offered', 'accepted');

-- The counts per status under the dashboard's filters: without a filter cases_status_id (001)
-- answers them; with one, these find the rows without reading every case.
CREATE INDEX cases_topics ON cases USING gin (topics);
CREATE INDEX cases_regions ON cases USING gin (regions);
CREATE INDEX cases_medium_status ON cases (medium, status);
CREATE INDEX cases_assignee_status ON cases (assignee_user_id, status, id DESC);
