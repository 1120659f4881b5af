// Package centretest starts real transparency centres for tests: a centre
// on SQLite (or PostgreSQL) behind an HTTP server on loopback, with the
// fixture parties' keys registered.
package centretest

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprove/reprove/centre"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/store/pgtest"
	"github.com/reprove/reprove/centre/witness"
	"github.com/reprove/reprove/fleet/queue"
)

// Registered are the parties whose keys every test centre knows.
var (
	Alice = fixture.MustParty("alice")
	Bob   = fixture.MustParty("bob")
	RebA  = fixture.MustParty("rebuilder-a")
	RebB  = fixture.MustParty("rebuilder-b")
	// Stranger is known to no centre.
	Stranger = fixture.MustParty("stranger")
	// Says is one agreeing and one dissenting rebuilder.
	Says = []fixture.Say{{Rebuilder: RebA}, {Rebuilder: RebB, Different: true}}
)

// Options choose the backend and the key.
type Options struct {
	Postgres bool
	// LogKey, when set, is the path of the log's signer key: two centres
	// given one key sign as one log (a fork, for monitor tests).
	LogKey string
	// Dir is the data directory; a fresh one when empty.
	Dir string
	// Queue, when set, is a fleet's queue whose dashboard the centre
	// serves under /fleet/.
	Queue *queue.Queue
	// Witnesses, when set, are asked to cosign the log's checkpoints
	// (make the log's key first with LogKey, for the witnesses to know).
	Witnesses []*witness.Witness
}

// WitnessInterval is the cosigner's interval in test centres.
const WitnessInterval = 50 * time.Millisecond

// LogKey makes the log's key pair in dir (a centre's data directory), as
// the first start would, and returns its verifier key: witnesses are told
// of a log by its key before the centre asks them.
func LogKey(t testing.TB, dir string) string {
	t.Helper()
	skey, _, err := merklelog.LoadOrCreateKey(dir, "centre.test/log")
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := merklelog.VerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

// Centre is a running test centre.
type Centre struct {
	*centre.Centre
	Server *httptest.Server
	URL    string
	Dir    string
	// Config is how it was opened (its store, for another connection).
	Config centre.Config
}

// Start opens a centre and serves it until the test ends.
func Start(t testing.TB, opts Options) *Centre {
	t.Helper()
	ctx := context.Background()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	// A test centre starts its log on purpose, under a key made first for
	// its witnesses (LogKey) or another centre's (a fork); a restart on
	// the same Dir opens the log the database holds.
	cfg := centre.Config{DataDir: opts.Dir, Origin: "centre.test/log", LogKey: opts.LogKey, NewLog: true, Logf: t.Logf, Queue: opts.Queue,
		KeyRate:   -1, // tests publish faster than a key's share
		Witnesses: opts.Witnesses, Witnessing: witness.Options{Interval: WitnessInterval, MaxBackoff: 200 * time.Millisecond}}
	if opts.Postgres {
		cfg.DatabaseURL = pgtest.Database(t)
	}
	c, err := centre.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := centre.OpenStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, k := range []struct {
		p    *fixture.Party
		role item.Role
	}{{Alice, item.Reviewer}, {Bob, item.Reviewer}, {RebA, item.Rebuilder}, {RebB, item.Rebuilder}} {
		if _, err := centre.AddKey(ctx, st, k.p.Name, k.role, k.p.PEM, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	return &Centre{Centre: c, Server: srv, URL: srv.URL, Dir: opts.Dir, Config: cfg}
}

// AddKey registers one more key with the running centre.
func (c *Centre) AddKey(t testing.TB, name string, role item.Role, pem []byte) {
	t.Helper()
	ctx := context.Background()
	st, err := centre.OpenStore(ctx, c.Config)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := centre.AddKey(ctx, st, name, role, pem, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// KeyPath is the log's signer key file of a centre started without LogKey.
func (c *Centre) KeyPath() string { return filepath.Join(c.Dir, "log.key") }
