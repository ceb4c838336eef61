-- Coverage, aftercare and the evaluation reports (issue 8).
--
-- coverage: one row per published piece that came out of a case. Outlet, scope, medium, date,
-- tone and the yes/no facts are what the reports count, so they are plain columns. The link and
-- the headline are public, but a headline may name a spokesperson whose alias is all the desk
-- shows: together they would undo the alias, so they are sealed per row (coverage.details:<id>)
-- and purged with the case's personal data.
CREATE TABLE coverage (
  id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id                  bigint NOT NULL REFERENCES cases (id),
  outlet_name              text NOT NULL CHECK (length(outlet_name) BETWEEN 1 AND 200),
  outlet_scope             text NOT NULL CHECK (outlet_scope IN ('national', 'local', 'international')),
  medium                   text NOT NULL CHECK (medium IN ('tv', 'radio', 'print', 'online', 'podcast')),
  appeared_on              date NOT NULL,
  lived_experience_quoted  boolean NOT NULL,
  spokesperson_id          bigint REFERENCES spokespeople (id),  -- NULL: no spokesperson of ours
  first_time               boolean NOT NULL DEFAULT false,       -- the spokesperson's first time in the media
  tone                     text NOT NULL CHECK (tone IN ('positive', 'balanced', 'negative')),
  details_sealed           bytea,                                -- {"link","headline"}; NULL once purged
  recorded_by              text NOT NULL,                        -- 'user:<id>'
  created_at               timestamptz NOT NULL DEFAULT now(),
  CHECK (spokesperson_id IS NOT NULL OR NOT first_time)
);
CREATE INDEX coverage_case ON coverage (case_id, id);
CREATE INDEX coverage_appeared ON coverage (appeared_on);

-- Aftercare: every engagement of a spokesperson (an accepted offer naming them, or coverage
-- quoting them) creates one check-in task per case and spokesperson, due the next working day.
CREATE TABLE aftercare_tasks (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id          bigint NOT NULL REFERENCES cases (id),
  spokesperson_id  bigint NOT NULL REFERENCES spokespeople (id),
  reason           text NOT NULL CHECK (reason IN ('offer_accepted', 'coverage')),
  due_at           timestamptz NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  done_at          timestamptz,
  done_by          text,                                         -- 'user:<id>'
  UNIQUE (case_id, spokesperson_id),
  CHECK ((done_at IS NULL) = (done_by IS NULL))
);
CREATE INDEX aftercare_open ON aftercare_tasks (due_at) WHERE done_at IS NULL;

-- The reports select cases by when they arrived and offers by when they were sent. The times to
-- a first offer and to fulfilment are kept on the case, written with the offer and the status
-- change (store/offer_store create_offer, store/case_store change_case_status), so that a report
-- reads one row per case instead of grouping every offer and timeline event.
CREATE INDEX cases_received ON cases (received_at);
CREATE INDEX offers_created ON offers (created_at);
ALTER TABLE cases
  ADD COLUMN first_offer_at timestamptz,  -- when the first offer was sent
  ADD COLUMN fulfilled_at   timestamptz;  -- when it first became fulfilled
UPDATE cases c SET first_offer_at = o.at
FROM (SELECT case_id, min(created_at) AS at FROM offers GROUP BY case_id) o WHERE o.case_id = c.id;
UPDATE cases c SET fulfilled_at = e.at
FROM (SELECT case_id, min(at) AS at FROM case_events
      WHERE kind = 'status_changed' AND data ->> 'to' = 'fulfilled' GROUP BY case_id) e
WHERE e.case_id = c.id;
