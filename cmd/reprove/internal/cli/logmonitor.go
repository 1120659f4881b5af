package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/monitor"
	"github.com/reprove/reprove/internal/english"
	"github.com/reprove/reprove/pipeline"
)

func newLogCmd(env *Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Watch a transparency centre's log",
		Args:  groupArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newLogMonitorCmd(env))
	return cmd
}

// monitorReport is `reprove log monitor --json` (schemas/centre-monitor.schema.json).
type monitorReport struct {
	SchemaVersion int             `json:"schemaVersion"`
	Server        string          `json:"server"`
	VerifierKey   string          `json:"verifierKey"`
	KeyPinned     bool            `json:"keyPinned"`
	Consistent    bool            `json:"consistent"`
	OldSize       int64           `json:"oldSize"`
	NewSize       int64           `json:"newSize"`
	Entries       []monitor.Entry `json:"entries"`
	// IndexesChecked counts the artifacts whose signed index the centre
	// hands customers was checked to list every new entry naming them.
	IndexesChecked int `json:"indexesChecked"`
	// IndexesSkipped counts the artifacts past one run's bound, which the
	// next run checks: entries from ReplayedTo on (EntriesPending of them)
	// wait for it.
	IndexesSkipped int    `json:"indexesSkipped"`
	ReplayedTo     int64  `json:"replayedTo"`
	EntriesPending int64  `json:"entriesPending"`
	Problem        string `json:"problem,omitempty"`
	Evidence       string `json:"evidence,omitempty"`
}

func newLogMonitorCmd(env *Env) *cobra.Command {
	var (
		server, state, key string
		jsonOut            bool
	)
	cmd := &cobra.Command{
		Use:   "monitor --server URL --state DIR",
		Short: "Check that a centre's log only grows, and list its new entries",
		Long: `Check a transparency centre's log against the last checkpoint this monitor
saw (kept in --state): the new checkpoint must be signed by the log's key and
the centre must prove it extends the old one, so a log that was forked,
rewritten or shrunk is caught. The new entries are read from the log's tiles,
each checked against the new checkpoint, and listed. Then, for each artifact
the new entries name, the signed index in the centre's lookup must list every
one of them: a centre hiding an entry from an artifact's customers (a
dissenting rebuilder's summary, say) is caught, and so is a lookup that
answers at an older tree than the log's (a stale cache or front). One run
checks at most 10,000 artifacts; the next run goes on where it stopped, so
a first run over a large log checks every artifact over a few runs. Run it
regularly (cron).

The first run pins the log's verifier key: --key (the key, or a file holding
it), else the key the centre names. The state advances only when the check
passes; on an inconsistency both checkpoints are saved in the state directory
as evidence, and on a lying index the signed index and the checkpoint.

Exit 0 when the log is consistent; 3 when it is not; 1 when the check could
not run (the centre unreachable, say).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if server == "" || state == "" {
				return usageErrorf("--server and --state are required")
			}
			c, err := client.New(server)
			if err != nil {
				return usageErrorf("--server: %v", err)
			}
			vkey, err := pipeline.ReadLogKey(key)
			if err != nil {
				return err
			}
			opts := monitor.Options{Key: vkey, Now: env.Now}
			if env.IsTerminal && !jsonOut {
				opts.Progress = func(s string) { printf(env.Stderr, "reprove: %s\n", s) }
			}
			res, err := monitor.Run(ctx, c, state, opts)
			var ie *monitor.InconsistentError
			var xe *monitor.IndexError
			if err != nil && !errors.As(err, &ie) && !errors.As(err, &xe) {
				return err
			}
			rep := monitorReport{SchemaVersion: 1, Server: c.Server(), VerifierKey: res.VerifierKey, KeyPinned: res.KeyPinned,
				Consistent: ie == nil && xe == nil, OldSize: res.Old.Size, NewSize: res.New.Size, Entries: res.Entries,
				IndexesChecked: res.IndexesChecked, IndexesSkipped: res.IndexesSkipped, ReplayedTo: res.ReplayedTo, EntriesPending: res.EntriesPending}
			if rep.Entries == nil {
				rep.Entries = []monitor.Entry{}
			}
			switch {
			case ie != nil:
				rep.Problem, rep.Evidence, rep.Entries = ie.Err.Error(), ie.Evidence, []monitor.Entry{}
			case xe != nil:
				// The entries were read and proved; the lookup lied.
				ev := xe.Evidence
				xe.Evidence = ""
				rep.Problem, rep.Evidence = xe.Error(), ev
			}
			if jsonOut {
				if err := writeJSONOut(env, rep); err != nil {
					return err
				}
			} else {
				printMonitor(env, rep)
			}
			if !rep.Consistent {
				return withCode(ExitNotReproduced)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "the centre's `URL`")
	f.StringVar(&state, "state", "", "the monitor's state `DIR` (the pinned key, the last checkpoint)")
	f.StringVar(&key, "key", "", "the log's verifier `KEY` (or a file holding it); pinned at the first run")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON (schemaVersion 1)")
	return cmd
}

func printMonitor(env *Env, r monitorReport) {
	if r.KeyPinned {
		printf(env.Stdout, "pinned the log's key the centre names: %s\n", r.VerifierKey)
	}
	if !r.Consistent {
		printf(env.Stdout, "INCONSISTENT: %s at tree size %d (seen before: %d): %s\n", r.Server, r.NewSize, r.OldSize, r.Problem)
		if r.Evidence != "" {
			printf(env.Stdout, "evidence: %s\n", r.Evidence)
		}
		return
	}
	switch {
	case r.OldSize == 0:
		printf(env.Stdout, "log %s: tree size %d\n", r.Server, r.NewSize)
	case r.NewSize == r.OldSize:
		printf(env.Stdout, "log %s: tree size %d, unchanged\n", r.Server, r.NewSize)
	default:
		printf(env.Stdout, "log %s: tree size %d → %d, consistent\n", r.Server, r.OldSize, r.NewSize)
	}
	if r.IndexesChecked > 0 || r.IndexesSkipped > 0 {
		printLine(env.Stdout, fmt.Sprintf("the centre's signed index of %s lists every new entry naming it", english.Count(r.IndexesChecked, "artifact")))
	}
	if r.EntriesPending > 0 {
		printLine(env.Stdout, fmt.Sprintf("%s not yet replayed against the centre's lookups (more than %d artifacts in one run): the next run goes on from tree size %d",
			english.Count(r.EntriesPending, "entry", "entries"), monitor.MaxIndexChecks, r.ReplayedTo))
	}
	for _, e := range r.Entries {
		about := ""
		if len(e.Subjects) > 0 {
			about = " [" + strings.Join(e.Subjects, ", ") + "]"
		}
		printf(env.Stdout, "#%d %s: %s%s\n", e.Index, e.Kind, e.What, about)
	}
}
