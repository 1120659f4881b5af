-- The log: entries, tlog's stored hashes, signed checkpoints. Append-only.
CREATE TABLE tree (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	size BIGINT  NOT NULL
);
INSERT INTO tree (id, size) VALUES (1, 0);

CREATE TABLE entries (
	idx            BIGINT PRIMARY KEY,
	leaf_hash      BYTEA  NOT NULL UNIQUE,
	leaf           BYTEA  NOT NULL,
	kind           TEXT   NOT NULL,
	payload_digest TEXT   NOT NULL,
	predicate_type TEXT   NOT NULL,
	signers        TEXT   NOT NULL,
	logged_at      BIGINT NOT NULL
);
CREATE INDEX entries_payload ON entries (payload_digest);

CREATE TABLE hashes (
	id   BIGINT PRIMARY KEY,
	hash BYTEA  NOT NULL
);

CREATE TABLE checkpoints (
	size    BIGINT PRIMARY KEY,
	note    BYTEA  NOT NULL,
	made_at BIGINT NOT NULL
);

-- Indexes for lookups.
CREATE TABLE subjects (
	digest TEXT   NOT NULL,
	idx    BIGINT NOT NULL,
	name   TEXT   NOT NULL,
	PRIMARY KEY (digest, idx)
);
CREATE TABLE cites (
	idx            BIGINT NOT NULL,
	payload_digest TEXT   NOT NULL,
	PRIMARY KEY (idx, payload_digest)
);
CREATE INDEX cites_payload ON cites (payload_digest);
CREATE TABLE names (
	name    TEXT   NOT NULL,
	version TEXT   NOT NULL,
	idx     BIGINT NOT NULL,
	PRIMARY KEY (name, version, idx)
);
CREATE TABLE reports (
	digest TEXT PRIMARY KEY,
	body   BYTEA NOT NULL
);

-- Registered keys and the log's own settings.
CREATE TABLE keys (
	name        TEXT   PRIMARY KEY,
	role        TEXT   NOT NULL,
	fingerprint TEXT   NOT NULL UNIQUE,
	pem         BYTEA  NOT NULL,
	added_at    BIGINT NOT NULL
);
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- Leaves are never rewritten or deleted.
CREATE FUNCTION reprove_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the log is append-only';
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON entries FOR EACH STATEMENT EXECUTE FUNCTION reprove_append_only();
CREATE TRIGGER hashes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON hashes FOR EACH STATEMENT EXECUTE FUNCTION reprove_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION reprove_append_only();
CREATE TRIGGER tree_grows BEFORE UPDATE ON tree FOR EACH ROW WHEN (NEW.size < OLD.size) EXECUTE FUNCTION reprove_append_only();
