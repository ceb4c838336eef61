-- Email threading: every Message-ID the desk received or sent, keyed by a blind index (the ids
-- can name people's hosts), so that a reply naming one joins its case. Cases whose message
-- could not be parsed are marked so that staff read the raw message.

CREATE TABLE case_message_ids (
  message_id_index  bytea PRIMARY KEY,          -- blind index of the Message-ID without brackets
  case_id           bigint NOT NULL REFERENCES cases (id),
  direction         text NOT NULL CHECK (direction IN ('in', 'out')),
  created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_message_ids_case ON case_message_ids (case_id);

ALTER TABLE cases ADD COLUMN unparsed boolean NOT NULL DEFAULT false;
