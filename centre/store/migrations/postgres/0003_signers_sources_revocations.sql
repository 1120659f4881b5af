-- Which registered keys signed each entry (by fingerprint): lookups for the
-- keys a customer trusts, the per-key cap on one artifact's entries, the
-- revocations a bundle carries.
CREATE TABLE signed (
	idx         BIGINT NOT NULL,
	fingerprint TEXT   NOT NULL,
	PRIMARY KEY (idx, fingerprint)
);
CREATE INDEX signed_key ON signed (fingerprint, idx);
INSERT INTO signed (idx, fingerprint)
	SELECT e.idx, k.fingerprint FROM entries e JOIN keys k
	ON position(E'\n' || k.name || E'\n' in E'\n' || e.signers || E'\n') > 0;

-- The source each rebuild names (its lookup digest): a file's lookup
-- brings the reviews filed under it.
CREATE TABLE sources (
	idx    BIGINT NOT NULL,
	digest TEXT   NOT NULL,
	PRIMARY KEY (idx, digest)
);

-- A revoked key: the log entry that revoked it, and when.
ALTER TABLE keys ADD COLUMN revoked_idx BIGINT;
ALTER TABLE keys ADD COLUMN revoked_at BIGINT;
