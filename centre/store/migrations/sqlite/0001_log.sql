-- The log: entries, tlog's stored hashes, signed checkpoints. Append-only.
CREATE TABLE tree (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	size INTEGER NOT NULL
) STRICT;
INSERT INTO tree (id, size) VALUES (1, 0);

CREATE TABLE entries (
	idx            INTEGER PRIMARY KEY,
	leaf_hash      BLOB    NOT NULL UNIQUE,
	leaf           BLOB    NOT NULL,
	kind           TEXT    NOT NULL,
	payload_digest TEXT    NOT NULL,
	predicate_type TEXT    NOT NULL,
	signers        TEXT    NOT NULL,
	logged_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX entries_payload ON entries (payload_digest);

CREATE TABLE hashes (
	id   INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
) STRICT;

CREATE TABLE checkpoints (
	size    INTEGER PRIMARY KEY,
	note    BLOB    NOT NULL,
	made_at INTEGER NOT NULL
) STRICT;

-- Indexes for lookups.
CREATE TABLE subjects (
	digest TEXT    NOT NULL,
	idx    INTEGER NOT NULL,
	name   TEXT    NOT NULL,
	PRIMARY KEY (digest, idx)
) STRICT;
CREATE TABLE cites (
	idx            INTEGER NOT NULL,
	payload_digest TEXT    NOT NULL,
	PRIMARY KEY (idx, payload_digest)
) STRICT;
CREATE INDEX cites_payload ON cites (payload_digest);
CREATE TABLE names (
	name    TEXT    NOT NULL,
	version TEXT    NOT NULL,
	idx     INTEGER NOT NULL,
	PRIMARY KEY (name, version, idx)
) STRICT;
CREATE TABLE reports (
	digest TEXT PRIMARY KEY,
	body   BLOB NOT NULL
) STRICT;

-- Registered keys and the log's own settings.
CREATE TABLE keys (
	name        TEXT    PRIMARY KEY,
	role        TEXT    NOT NULL,
	fingerprint TEXT    NOT NULL UNIQUE,
	pem         BLOB    NOT NULL,
	added_at    INTEGER NOT NULL
) STRICT;
CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

-- Leaves are never rewritten or deleted.
CREATE TRIGGER entries_append_only_u BEFORE UPDATE ON entries BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER entries_append_only_d BEFORE DELETE ON entries BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER hashes_append_only_u BEFORE UPDATE ON hashes BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER hashes_append_only_d BEFORE DELETE ON hashes BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER checkpoints_append_only_u BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER checkpoints_append_only_d BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
CREATE TRIGGER tree_grows BEFORE UPDATE ON tree WHEN NEW.size < OLD.size BEGIN SELECT RAISE(ABORT, 'the log is append-only'); END;
