// Package pgtest gives tests and benchmarks a real PostgreSQL server: a
// private cluster made with initdb and started with pg_ctl from Debian's
// postgresql package, listening only on a Unix socket in its own directory,
// run as an unprivileged user (PostgreSQL refuses to run as root; when the
// tests run as root the cluster runs as the system user "postgres", else
// as the caller).
//
// One cluster serves a whole test binary; each caller gets a database of
// its own. A test package that uses it calls Main from TestMain so the
// cluster stops when the tests end (and should the binary die, PostgreSQL
// stops by itself once its data directory is gone).
//
// Tests skip only under -short; without -short a missing PostgreSQL is a
// failure (bash ci/setup.sh --test installs it).
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the driver the DSNs are for
)

// BinDir is where Debian's postgresql-15 puts initdb and pg_ctl.
var BinDir = "/usr/lib/postgresql/15/bin"

// Cluster is a running private PostgreSQL.
type Cluster struct {
	Dir    string // owns data/, the socket and the log
	Socket string // the socket directory
	User   string // the database superuser (the OS user it runs as)
	cred   *syscall.Credential
	mu     sync.Mutex
	n      int
}

var (
	sharedMu  sync.Mutex
	shared    *Cluster
	sharedErr error
)

// Main runs the tests and then stops the shared cluster, if one started.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the shared cluster and removes its files.
func Stop() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		shared.stop()
		shared = nil
	}
}

// Need skips under -short and fails when PostgreSQL's programs are missing.
func Need(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL (skipped with -short)")
	}
	for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(BinDir, p)); err != nil {
			t.Fatalf("PostgreSQL is not installed (bash ci/setup.sh --test installs it): %v", err)
		}
	}
}

// Database returns the DSN of a new, empty database on the shared cluster.
func Database(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	dsn, err := c.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// Shared starts the shared cluster on first use.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	Need(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Start(context.Background())
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// Start makes and starts a new cluster.
func Start(ctx context.Context) (*Cluster, error) {
	c := &Cluster{}
	cur, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	c.User = cur.Username
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			return nil, fmt.Errorf("start PostgreSQL: no unprivileged user (postgres or nobody) to run it as: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		c.User = u.Username
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	// Under /tmp (world-traversable), not a test's private TempDir, which
	// the unprivileged user could not enter.
	c.Dir, err = os.MkdirTemp("", "reprove-pg-")
	if err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	c.Socket = filepath.Join(c.Dir, "sock")
	if err := os.Mkdir(c.Socket, 0o700); err != nil {
		return nil, fmt.Errorf("start PostgreSQL: %w", err)
	}
	if uid >= 0 {
		for _, p := range []string{c.Dir, c.Socket} {
			if err := os.Chown(p, uid, gid); err != nil {
				os.RemoveAll(c.Dir)
				return nil, fmt.Errorf("start PostgreSQL: %w", err)
			}
		}
	}
	data := filepath.Join(c.Dir, "data")
	if err := c.run(ctx, "initdb", "-D", data, "-U", c.User, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(c.Dir)
		return nil, err
	}
	if err := c.Resume(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
		os.RemoveAll(c.Dir)
		return nil, fmt.Errorf("%w\n%s", err, log)
	}
	return c, nil
}

func (c *Cluster) run(ctx context.Context, prog string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(BinDir, prog), args...)
	cmd.Dir = c.Dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// LC_ALL=C: initdb must not depend on the host's locale settings.
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=" + c.Dir}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", prog, strings.Join(args, " "), err, out.Bytes())
	}
	return nil
}

// DSN is the connection string of database db.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s user=%s dbname=%s sslmode=disable", c.Socket, c.User, db)
}

// URL is the postgres:// URL of database db (the form `reprove serve
// --database` takes).
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://%s@/%s?host=%s&sslmode=disable", c.User, db, c.Socket)
}

// CreateDatabase makes a new empty database and returns its postgres:// URL.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	c.mu.Lock()
	c.n++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.n)
	c.mu.Unlock()
	db, err := sql.Open("pgx", c.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// Pause stops the cluster's server, keeping its data, as an outage would.
func (c *Cluster) Pause(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "stop", "-m", "fast", "-w", "-D", filepath.Join(c.Dir, "data"))
}

// Resume starts the server of a paused cluster again.
func (c *Cluster) Resume(ctx context.Context) error {
	return c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", filepath.Join(c.Dir, "data"), "-l", filepath.Join(c.Dir, "log"),
		"-o", fmt.Sprintf("-k %s -c listen_addresses='' -c max_connections=200 -c shared_buffers=64MB", c.Socket))
}

// Close stops a cluster made with Start and removes its files.
func (c *Cluster) Close() { c.stop() }

func (c *Cluster) stop() {
	_ = c.run(context.Background(), "pg_ctl", "stop", "-m", "immediate", "-w", "-D", filepath.Join(c.Dir, "data"))
	os.RemoveAll(c.Dir)
}
