-- Key rotation (`mediadesk keys rotate`): a helper that reads the key id from a v1 envelope's
-- header, so stale values are found in SQL without loading them, and the reveal audit opened
-- to exactly one kind of UPDATE: re-sealing its reason under a newer key id. Everything else
-- about an audit row (and every registry_events row) stays append-only.

-- The key id of a keyring envelope (0x01 | u32 key id, big-endian | ...); NULL for anything
-- else (a v2 envelope, a malformed value). Nested CASE, not AND: the byte reads must not run
-- on a value shorter than the header.
CREATE FUNCTION sealed_key_id(envelope bytea) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE
    WHEN length(envelope) < 5 THEN NULL
    WHEN get_byte(envelope, 0) <> 1 THEN NULL
    ELSE (get_byte(envelope, 1)::bigint << 24) | (get_byte(envelope, 2)::bigint << 16)
       | (get_byte(envelope, 3)::bigint << 8) | get_byte(envelope, 4)::bigint
  END
$$;

-- Allowed: an UPDATE whose only change is reason_sealed, to a v1 envelope under a newer key id
-- (the value itself cannot be checked here: the database never holds a key). Any other column
-- change, an older key id, and every DELETE still raise.
CREATE FUNCTION reveal_audit_reseal_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE'
     AND (to_jsonb(NEW) - 'reason_sealed') = (to_jsonb(OLD) - 'reason_sealed')
     AND sealed_key_id(NEW.reason_sealed) > coalesce(sealed_key_id(OLD.reason_sealed), 0) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'reveal_audit is append-only (only reason_sealed may be re-sealed under a newer key id)';
END $$;

DROP TRIGGER reveal_audit_no_update ON reveal_audit;
CREATE TRIGGER reveal_audit_reseal_only BEFORE UPDATE OR DELETE ON reveal_audit
  FOR EACH ROW EXECUTE FUNCTION reveal_audit_reseal_only();
