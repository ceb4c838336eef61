-- Foundation schema: staff users and sessions, intakes, cases with their append-only timeline.
-- Personal data is only ever stored sealed (bytea envelopes from crypto/keyring) or as keyed
-- blind indexes; plaintext columns hold derived, non-personal fields only.

CREATE TABLE users (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email_index   bytea NOT NULL UNIQUE,           -- blind index of the normalised email
  email_sealed  bytea NOT NULL,                  -- bound to users.email:<email_index hex>
  password_hash text NOT NULL,                   -- Argon2id (libsodium crypto_pwhash_str)
  role          text NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  disabled_at   timestamptz
);

CREATE TABLE sessions (
  token_hash    bytea PRIMARY KEY,               -- BLAKE2b of the cookie token; the token itself is never stored
  user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  csrf_token    text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL             -- the absolute timeout
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE intakes (
  id           text PRIMARY KEY,                 -- the intake id answered to the sender
  source       text NOT NULL CHECK (source IN ('webhook', 'email', 'form', 'unknown')),
  received_at  timestamptz NOT NULL,
  status       text NOT NULL CHECK (status IN ('processed', 'failed')),
  error        text,                             -- for failed: a fixed reason, never input text
  deliveries   integer NOT NULL DEFAULT 1,
  stored_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE case_ref_counters (
  year         integer PRIMARY KEY,
  last_number  bigint NOT NULL
);

CREATE TABLE cases (
  id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ref                     text NOT NULL UNIQUE,  -- MD-YYYY-NNNNNN
  intake_id               text UNIQUE REFERENCES intakes (id),
  source                  text NOT NULL CHECK (source IN ('webhook', 'email', 'form', 'staff')),
  status                  text NOT NULL DEFAULT 'new'
                          CHECK (status IN ('new', 'triaged', 'offered', 'accepted', 'fulfilled',
                                            'no_match', 'declined', 'withdrawn')),
  priority                smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 1 AND 4),
  topics                  text[] NOT NULL DEFAULT '{}',
  regions                 text[] NOT NULL DEFAULT '{}',
  medium                  text CHECK (medium IN ('tv', 'radio', 'print', 'online', 'podcast')),
  outlet_name             text,
  outlet_scope            text CHECK (outlet_scope IN ('national', 'local', 'international')),
  deadline                timestamptz,
  journalist_email_index  bytea,                 -- blind index: find a journalist's cases
  request_sealed          bytea NOT NULL,        -- journalist contact + request text, bound to cases.request:<ref>
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_status_id ON cases (status, id DESC);
CREATE INDEX cases_open_queue ON cases (priority, deadline)
  WHERE status IN ('new', 'triaged', 'offered', 'accepted');
CREATE INDEX cases_journalist ON cases (journalist_email_index);

-- The timeline: one row per change, written in the same transaction as the change.
CREATE TABLE case_events (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id  bigint NOT NULL REFERENCES cases (id),
  at       timestamptz NOT NULL DEFAULT now(),
  actor    text NOT NULL,                        -- 'system:worker', 'user:<id>': never a name
  kind     text NOT NULL,
  data     jsonb NOT NULL DEFAULT '{}'           -- non-personal details only
);
CREATE INDEX case_events_case ON case_events (case_id, id);

CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'case_events is append-only';
END $$;
CREATE TRIGGER case_events_no_update BEFORE UPDATE OR DELETE ON case_events
  FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

-- One sealed known value per key id: a process started with the wrong master key notices at
-- start instead of failing every intake it reads.
CREATE TABLE key_checks (
  key_id      integer PRIMARY KEY,
  sealed      bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
