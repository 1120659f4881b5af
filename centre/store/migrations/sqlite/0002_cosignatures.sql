-- Witnesses' cosignatures of the log's checkpoints (C2SP tlog-cosignature):
-- the newest signature line of each witness for each tree size. A witness
-- asked again about the same tree signs anew with a later time, which
-- replaces its line (a cosignature only vouches; the checkpoint it vouches
-- for is in checkpoints, append-only).
CREATE TABLE cosignatures (
	size      INTEGER NOT NULL,
	witness   TEXT    NOT NULL,
	line      BLOB    NOT NULL,
	signed_at INTEGER NOT NULL,
	PRIMARY KEY (size, witness)
) STRICT;
