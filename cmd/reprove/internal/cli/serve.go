package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/centre"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/centre/witness"
	"github.com/reprove/reprove/internal/atomicfile"
)

// centreFlags are the flags that name a centre's storage, shared by serve
// and its key commands.
type centreFlags struct {
	data     string
	database string
}

func (f *centreFlags) add(cmd *cobra.Command) {
	p := cmd.PersistentFlags()
	p.StringVar(&f.data, "data", "", "the centre's `DIR`: the SQLite database and the log's key pair (default $XDG_DATA_HOME/reprove/centre)")
	p.StringVar(&f.database, "database", "", "keep the log in PostgreSQL at this postgres:// `URL` instead of SQLite (replicas share one; $REPROVE_DATABASE)")
}

// config resolves the flags (and the environment) into a centre config.
func (f *centreFlags) config(env *Env) (centre.Config, error) {
	cfg := centre.Config{DataDir: f.data, DatabaseURL: f.database}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = env.Getenv("REPROVE_DATABASE")
	}
	if cfg.DatabaseURL != "" && !strings.HasPrefix(cfg.DatabaseURL, "postgres://") && !strings.HasPrefix(cfg.DatabaseURL, "postgresql://") {
		return cfg, usageErrorf("--database: want a postgres:// URL")
	}
	if cfg.DataDir == "" {
		if d := env.Getenv("XDG_DATA_HOME"); d != "" {
			cfg.DataDir = filepath.Join(d, "reprove", "centre")
		} else {
			home := env.Getenv("HOME")
			if home == "" {
				return cfg, usageErrorf("--data is required (no HOME to put the centre's data under)")
			}
			cfg.DataDir = filepath.Join(home, ".local", "share", "reprove", "centre")
		}
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return cfg, err
	}
	cfg.DataDir = abs
	return cfg, nil
}

// describeStore names where the log is kept, without a password.
func describeStore(cfg centre.Config) string {
	if cfg.DatabaseURL == "" {
		return "SQLite " + filepath.Join(cfg.DataDir, store.SQLiteFile)
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		return "PostgreSQL"
	}
	u.User = nil
	return "PostgreSQL " + u.Redacted()
}

func newServeCmd(env *Env) *cobra.Command {
	var (
		cf       centreFlags
		addr     string
		addrFile string
		logKey   string
		origin   string
		grace    time.Duration
		newLog   bool
		keyRate  float64
		keyBurst int
		qf       queueFlag

		witnesses []string
		quorum    int
		wopts     witness.Options
	)
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--data DIR | --database postgres://…]",
		Short: "Run a transparency centre: an append-only public log of reviews and rebuilds",
		Long: `Serve a transparency centre over HTTP: one append-only Merkle log of every
review, rebuild, verification summary and compare report published to it,
with signed checkpoints (C2SP tlog-checkpoint), tiles (C2SP tlog-tiles), a
lookup by artifact digest that returns a log bundle with proofs, and web
pages (search, release pages, the log). centre/API.md documents the API.

Only attestations signed by keys an operator registered are accepted:
  reprove serve keys add NAME KEY.pub --role reviewer|rebuilder

The log is kept in SQLite under --data (the default), or in PostgreSQL
(--database postgres://…), which several serve replicas may share: give each
the same --log-key. The log's signer key is made under --data at the first
start unless --log-key names one; its verifier key, which customers pin in
their policies, is printed at start and served at /v1/log.

The first start makes the log's key, or is given one with --log-key and
--new-log. Later starts refuse a database that holds no log beside an
existing key (it was deleted or replaced: a new log under the old key would
fork the one customers know) unless --new-log says to start over on
purpose.

Each registered key may submit --key-rate envelopes a second over time and
--key-burst at once (429 past them); the server answers 503 with
Retry-After when overloaded or when its storage fails (a full disk, a
database outage, a database file removed or replaced), and /healthz says so.
With --witness (repeatable: "VKEY URL", a witness's note verifier key and
where it answers C2SP tlog-witness), the centre asks each witness to cosign
every new checkpoint, in the background: appends never wait for a witness.
Lookups and /checkpoint then serve the newest tree --witness-quorum of them
cosigned (all by default), with their cosignatures; a witness that is down
or slow only delays when new entries reach lookups, by about
--witness-interval once it answers again. Tell each witness of the log
first (its origin and verifier key, printed at start).

SIGTERM or SIGINT shuts the server down gracefully: it stops accepting, lets
requests in flight finish (up to --grace), and commits nothing half-done.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := cf.config(env)
			if err != nil {
				return err
			}
			cfg.LogKey, cfg.Origin, cfg.Clock, cfg.NewLog = logKey, origin, env.Now, newLog
			cfg.KeyRate, cfg.KeyBurst = keyRate, keyBurst
			cfg.Logf = func(format string, a ...any) { printf(env.Stderr, "reprove: "+format+"\n", a...) }
			if qf.database != "" {
				q, err := qf.open(cmd, env)
				if err != nil {
					return err
				}
				defer q.Close()
				cfg.Queue = q
			}
			for _, spec := range witnesses {
				w, err := witness.Parse(spec)
				if err != nil {
					return usageErrorf("--witness: %v", err)
				}
				cfg.Witnesses = append(cfg.Witnesses, w)
			}
			if quorum < 0 || quorum > len(cfg.Witnesses) {
				return usageErrorf("--witness-quorum %d: want 1 to the number of witnesses (%d)", quorum, len(cfg.Witnesses))
			}
			cfg.WitnessQuorum, cfg.Witnessing = quorum, wopts
			c, err := centre.Open(ctx, cfg)
			if err != nil {
				return err
			}
			defer c.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			url := "http://" + ln.Addr().String()
			if addrFile != "" {
				if err := atomicfile.Write(addrFile, []byte(url+"\n"), 0o644); err != nil {
					ln.Close()
					return err
				}
			}
			if c.KeyCreated {
				printf(env.Stdout, "made the log's key pair: %s (keep it secret) and %s\n",
					filepath.Join(cfg.DataDir, "log.key"), centre.VerifierKeyPath(cfg.DataDir))
			}
			printf(env.Stdout, "serving the transparency centre at %s\nlog:          %s\nverifier key: %s\nstore:        %s\n",
				url, c.Log().Origin(), c.Log().VerifierKey(), describeStore(cfg))
			for _, w := range cfg.Witnesses {
				printf(env.Stdout, "witness:      %s at %s\n", w.Name(), w.URL)
			}
			if len(cfg.Witnesses) > 0 {
				printf(env.Stdout, "lookups serve trees cosigned by %d of %d witnesses\n", c.Log().Quorum(), len(cfg.Witnesses))
			}
			if err := c.Serve(ctx, ln, grace); err != nil {
				return err
			}
			printLine(env.Stderr, "reprove: the centre shut down")
			return nil
		},
	}
	cf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0 picks a free one)")
	f.StringVar(&addrFile, "addr-file", "", "write the server's URL to `FILE` once it listens")
	f.StringVar(&logKey, "log-key", "", "the log's note signer key `FILE` (default: DIR/log.key, made at the first start)")
	f.StringVar(&origin, "origin", "", "the log's name in a key made at the first start (default: HOSTNAME/reprove)")
	f.DurationVar(&grace, "grace", 30*time.Second, "how long shutdown waits for requests in flight")
	f.BoolVar(&newLog, "new-log", false, "start a new, empty log with a key that exists already (only on purpose: see above)")
	f.Float64Var(&keyRate, "key-rate", centre.DefaultKeyRate, "envelopes a second each registered key may submit over time (negative: no limit)")
	f.IntVar(&keyBurst, "key-burst", centre.DefaultKeyBurst, "envelopes each registered key may submit at once")
	f.StringVar(&qf.database, "queue", "", "serve the dashboard of the rebuild fleet whose job queue is at this `URL` (postgres:// or sqlite:PATH) under /fleet/")
	f.StringArrayVar(&witnesses, "witness", nil, "ask the witness `\"VKEY URL\"` to cosign each checkpoint (C2SP tlog-witness; repeatable)")
	f.IntVar(&quorum, "witness-quorum", 0, "serve trees cosigned by `N` witnesses (default: all)")
	f.DurationVar(&wopts.Interval, "witness-interval", time.Second, "ask each witness at most once per `DURATION`")
	f.DurationVar(&wopts.Refresh, "witness-refresh", 15*time.Minute, "ask again for a cosignature of an unchanged tree after `DURATION`, so it stays young")
	cmd.AddCommand(newServeKeysCmd(env, &cf))
	return cmd
}

func newServeKeysCmd(env *Env, cf *centreFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Register the keys whose attestations the centre accepts",
		Args:  groupArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var role string
	add := &cobra.Command{
		Use:   "add NAME KEY.pub --role reviewer|rebuilder",
		Short: "Register a public key (cosign's PEM format) under a name and a role",
		Long: `Register a public key: from now on the centre accepts attestations it signs.
Reviews need a reviewer key; rebuild provenance and verification summaries
need a rebuilder key. A running centre sees the key at once. Keys are never
removed from the register: what they signed stays in the log (revoke a key
with reprove serve keys revoke).`,
		Args: args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			r, err := item.ParseRole(role)
			if err != nil {
				return usageErrorf("--role: %v", err)
			}
			pem, err := os.ReadFile(a[1])
			if err != nil {
				return fmt.Errorf("add key: %w", err)
			}
			cfg, err := cf.config(env)
			if err != nil {
				return err
			}
			st, err := centre.OpenStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			rec, err := centre.AddKey(ctx, st, a[0], r, pem, env.Now())
			if err != nil {
				return err
			}
			printf(env.Stdout, "registered %s key %s: %s\n", rec.Role, rec.Name, rec.Fingerprint)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "reviewer or rebuilder")
	var jsonOut bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the registered keys",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := cf.config(env)
			if err != nil {
				return err
			}
			st, err := centre.OpenStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			ks, err := st.Keys(ctx)
			if err != nil {
				return err
			}
			if jsonOut {
				type key struct {
					Name            string     `json:"name"`
					Role            item.Role  `json:"role"`
					Fingerprint     string     `json:"fingerprint"`
					AddedAt         time.Time  `json:"addedAt"`
					RevokedAt       *time.Time `json:"revokedAt,omitempty"`
					RevocationEntry *int64     `json:"revocationEntry,omitempty"`
				}
				out := struct {
					SchemaVersion int   `json:"schemaVersion"`
					Keys          []key `json:"keys"`
				}{SchemaVersion: 1, Keys: []key{}}
				for _, k := range ks {
					o := key{Name: k.Name, Role: k.Role, Fingerprint: k.Fingerprint.String(), AddedAt: k.AddedAt}
					if k.Revoked {
						o.RevokedAt, o.RevocationEntry = &k.RevokedAt, &k.RevokedIndex
					}
					out.Keys = append(out.Keys, o)
				}
				return writeJSONOut(env, out)
			}
			for _, k := range ks {
				if k.Revoked {
					printf(env.Stdout, "%-20s %-9s %s revoked %s (log entry %d)\n", k.Name, k.Role, k.Fingerprint, k.RevokedAt.Format(time.RFC3339), k.RevokedIndex)
					continue
				}
				printf(env.Stdout, "%-20s %-9s %s\n", k.Name, k.Role, k.Fingerprint)
			}
			return nil
		},
	}
	list.Flags().BoolVar(&jsonOut, "json", false, "print the keys as JSON (schemaVersion 1)")
	var reason, revokeKey string
	revoke := &cobra.Command{
		Use:   "revoke NAME [--reason TEXT]",
		Short: "Revoke a registered key: log the revocation, refuse what the key signs from now on",
		Long: `Revoke a registered key, when it was lost or its holder is no longer trusted.
The revocation is logged as an entry of its own (signed into the log like
any other), so everyone sees it; from its commit on, every replica refuses
envelopes the key signs. What the key signed before stays in the log:
lookups of it carry the revocation, so verifiers and pages can mark it.
Needs the log's key (DIR/log.key, or --log-key), as serve does.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			cfg, err := cf.config(env)
			if err != nil {
				return err
			}
			cfg.LogKey, cfg.Clock = revokeKey, env.Now
			r, err := centre.RevokeKey(ctx, cfg, a[0], reason)
			if err != nil {
				return err
			}
			printf(env.Stdout, "revoked %s key %s (%s): log entry %d, tree size %d\n", r.Key.Role, r.Key.Name, r.Key.Fingerprint, r.Index, r.TreeSize)
			return nil
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "why, in one line (logged, public)")
	revoke.Flags().StringVar(&revokeKey, "log-key", "", "the log's note signer key `FILE` (default: DIR/log.key)")
	cmd.AddCommand(add, list, revoke)
	return cmd
}

// writeJSONOut prints v as indented JSON on stdout.
func writeJSONOut(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
