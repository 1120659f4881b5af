-- Which registered keys signed each entry (by fingerprint): lookups for the
-- keys a customer trusts, the per-key cap on one artifact's entries, the
-- revocations a bundle carries.
CREATE TABLE signed (
	idx         INTEGER NOT NULL,
	fingerprint TEXT    NOT NULL,
	PRIMARY KEY (idx, fingerprint)
) STRICT;
CREATE INDEX signed_key ON signed (fingerprint, idx);
INSERT INTO signed (idx, fingerprint)
	SELECT e.idx, k.fingerprint FROM entries e JOIN keys k
	ON instr(char(10) || e.signers || char(10), char(10) || k.name || char(10)) > 0;

-- The source each rebuild names (its lookup digest): a file's lookup
-- brings the reviews filed under it.
CREATE TABLE sources (
	idx    INTEGER NOT NULL,
	digest TEXT    NOT NULL,
	PRIMARY KEY (idx, digest)
) STRICT;

-- A revoked key: the log entry that revoked it, and when.
ALTER TABLE keys ADD COLUMN revoked_idx INTEGER;
ALTER TABLE keys ADD COLUMN revoked_at INTEGER;
