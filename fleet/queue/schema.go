package queue

import (
	"context"
	"fmt"
	"strings"
)

// The fleet's own tables, beside River's (river_job, river_leader, …) in
// the same database, so that a job and what the fleet keeps of it commit
// in one transaction. Times are Unix milliseconds; byte columns are BLOB
// (SQLite) or BYTEA (PostgreSQL), since logs need not be UTF-8.
//
//   - fleet_job: what each job is about (its release), written with the
//     River job.
//   - fleet_result: a job's outcome, its log, result, recipe, signed
//     attestations and compare reports; written once per job (the first
//     attempt to finish wins), never updated.
//   - fleet_publication: one per (recipe, worker key, outputs); the job
//     whose attestations are published under it, and what the log gave
//     them.
//   - fleet_worker: each worker process, with its heartbeat (its lease).
//   - fleet_running: which worker runs which job, in which phase.
//   - fleet_seen: what each watcher has enqueued, so a restart never
//     enqueues a release twice.
var migrations = []string{
	1: `
CREATE TABLE fleet_job (
	job_id        BIGINT PRIMARY KEY,
	kind          TEXT   NOT NULL,
	ecosystem     TEXT   NOT NULL,
	watch         TEXT   NOT NULL,
	name          TEXT   NOT NULL,
	version       TEXT   NOT NULL,
	artifact      TEXT   NOT NULL,
	recipe_digest TEXT   NOT NULL,
	parent        BIGINT NOT NULL,
	enqueued_at   BIGINT NOT NULL);
CREATE INDEX fleet_job_release ON fleet_job (ecosystem, watch, name, version);
CREATE INDEX fleet_job_parent ON fleet_job (parent);
CREATE TABLE fleet_result (
	job_id          BIGINT PRIMARY KEY,
	worker          TEXT   NOT NULL,
	worker_name     TEXT   NOT NULL,
	key_fingerprint TEXT   NOT NULL,
	attempt         BIGINT NOT NULL,
	outcome         TEXT   NOT NULL,
	error           TEXT   NOT NULL,
	recipe          BLOB   NOT NULL,
	recipe_digest   TEXT   NOT NULL,
	shipped         TEXT   NOT NULL,
	result          BLOB   NOT NULL,
	log             BLOB   NOT NULL,
	attestations    BLOB   NOT NULL,
	reports         BLOB   NOT NULL,
	publication     TEXT   NOT NULL,
	started_at      BIGINT NOT NULL,
	finished_at     BIGINT NOT NULL);
CREATE INDEX fleet_result_finished ON fleet_result (finished_at);
CREATE TABLE fleet_publication (
	pkey         TEXT   PRIMARY KEY,
	job_id       BIGINT NOT NULL,
	server       TEXT   NOT NULL,
	published_at BIGINT NOT NULL,
	entries      TEXT   NOT NULL);
CREATE TABLE fleet_worker (
	id              TEXT   PRIMARY KEY,
	name            TEXT   NOT NULL,
	host            TEXT   NOT NULL,
	pid             BIGINT NOT NULL,
	key_fingerprint TEXT   NOT NULL,
	concurrency     BIGINT NOT NULL,
	version         TEXT   NOT NULL,
	started_at      BIGINT NOT NULL,
	heartbeat_at    BIGINT NOT NULL,
	state           TEXT   NOT NULL);
CREATE TABLE fleet_running (
	job_id     BIGINT PRIMARY KEY,
	worker     TEXT   NOT NULL,
	attempt    BIGINT NOT NULL,
	phase      TEXT   NOT NULL,
	started_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL);
CREATE TABLE fleet_seen (
	watch   TEXT   NOT NULL,
	item    TEXT   NOT NULL,
	job_id  BIGINT NOT NULL,
	seen_at BIGINT NOT NULL,
	PRIMARY KEY (watch, item));
`,
}

// migrateOurs applies the fleet's migrations the database lacks, inside
// the transaction (and lock) in which River's ran.
func migrateOurs(ctx context.Context, t tx, dialect string, now int64) error {
	if _, err := t.exec(ctx, `CREATE TABLE IF NOT EXISTS fleet_migration (
		version    BIGINT PRIMARY KEY,
		applied_at BIGINT NOT NULL)`, nil); err != nil {
		return err
	}
	r, err := t.query(ctx, `SELECT COALESCE(MAX(version), 0) FROM fleet_migration`, nil)
	if err != nil {
		return err
	}
	var have int64
	for r.Next() {
		if err := r.Scan(&have); err != nil {
			r.Close()
			return err
		}
	}
	r.Close()
	if err := r.Err(); err != nil {
		return err
	}
	if int(have) >= len(migrations) {
		return fmt.Errorf("the database has the fleet's schema version %d, newer than this reprove knows (%d): upgrade reprove", have, len(migrations)-1)
	}
	for v := int(have) + 1; v < len(migrations); v++ {
		for _, stmt := range strings.Split(migrations[v], ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if dialect == Postgres {
				stmt = strings.ReplaceAll(stmt, "BLOB", "BYTEA")
			}
			if _, err := t.exec(ctx, stmt, nil); err != nil {
				return fmt.Errorf("fleet migration %d: %w", v, err)
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO fleet_migration (version, applied_at) VALUES (@v, @at)`, params{"v": int64(v), "at": now}); err != nil {
			return err
		}
	}
	return nil
}
