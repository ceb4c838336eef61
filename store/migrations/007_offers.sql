-- Offers: a case put to a partner (and possibly one of their spokespeople), answered by the
-- partner through a link with a random token. The token itself is never stored, only its hash.
-- What a partner writes when declining may name people, so it is sealed.

CREATE TABLE offers (
  id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  case_id                bigint NOT NULL REFERENCES cases (id),
  partner_id             bigint NOT NULL REFERENCES partners (id),
  spokesperson_id        bigint REFERENCES spokespeople (id),    -- NULL: a partner-level offer
  consent_id             bigint REFERENCES consents (id),        -- the consent that held when it was sent
  state                  text NOT NULL DEFAULT 'sent'
                         CHECK (state IN ('sent', 'accepted', 'declined', 'expired', 'withdrawn')),
  token_hash             bytea NOT NULL UNIQUE,                  -- BLAKE2b of the link's token
  score                  real,                                   -- the match's score when offered
  created_by             text NOT NULL,                          -- 'user:<id>' or 'system:waterfall'
  created_at             timestamptz NOT NULL DEFAULT now(),
  expires_at             timestamptz NOT NULL CHECK (expires_at > created_at),
  responded_at           timestamptz,                            -- accepted, declined, expired or withdrawn
  decline_reason_sealed  bytea,                                  -- offers.decline_reason:<id>
  withdrawn_reason       text,                                   -- expired or withdrawn: a fixed phrase, never input text
  partner_told_at        timestamptz,                            -- withdrawn: when the worker emailed the partner
  CHECK ((state = 'sent') = (responded_at IS NULL))
);
CREATE INDEX offers_case ON offers (case_id, id);
CREATE INDEX offers_open ON offers (expires_at) WHERE state = 'sent';
CREATE INDEX offers_spokesperson_open ON offers (spokesperson_id) WHERE state = 'sent';
CREATE INDEX offers_spokesperson_accepted ON offers (spokesperson_id, responded_at) WHERE state = 'accepted';
CREATE INDEX offers_partner ON offers (partner_id, state);
CREATE INDEX offers_withdrawn_untold ON offers (id) WHERE state = 'withdrawn' AND partner_told_at IS NULL;

-- Per case: offer down the ranked list automatically after a decline or an expiry (off by default).
ALTER TABLE cases ADD COLUMN waterfall boolean NOT NULL DEFAULT false;
