package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/logproof/logstate"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/pipeline"
)

func newVerifyCmd(env *Env) *cobra.Command {
	var (
		policyPath string
		atts       []string
		jsonOut    bool
		server     string

		expectName, expectVersion string
	)
	cmd := &cobra.Command{
		Use:   "verify FILE --policy POLICY.yaml [--attestations PATH]...",
		Short: "Check a downloaded file against attestations and a trust policy",
		Long: `Check that FILE is what reviewed source produces: its digest must be the
subject of verification summaries signed by enough trusted rebuilders, each
resting on a rebuild attestation by the same rebuilder and on review
attestations by trusted reviewers of the very source that was rebuilt.

--attestations takes files (one DSSE envelope each, as reprove and cosign
write them), JSON Lines bundles (*.intoto.jsonl, one envelope per line) or
directories of them (*.json, *.jsonl, *.dsse, *.sig, *.bundle). Without it,
FILE.intoto.jsonl is read if it exists.

--server fetches from a transparency centre the log bundle of FILE's digest
(every attestation the log holds for it, with inclusion proofs and the log's
signed artifact index) and reads it with the rest. With a policy that names
the log (log: key:), only what the bundle proves counts; the centre is not
trusted for anything its log's key does not sign, and with log: witnesses:
a checkpoint counts only when enough of the named witnesses cosigned it
(within log: maxAge:, when set).

Under a policy that names a log, verify remembers the newest tree of that
log it has seen, in $REPROVE_STATE (default $XDG_STATE_HOME/reprove, else
~/.local/state/reprove), and refuses a bundle older than it (it may leave out
what was logged since) or of another history (a fork). With --server it
first reads the centre's own checkpoint, and fetches the proofs that the
trees it sees are one log's; offline it says what it could not check.

The policy (YAML, documented in the README) names the trusted reviewer and
rebuilder keys with k-of-n thresholds, the normalizers allowed to make
"equivalent" count, whether a disagreeing trusted rebuilder fails the check
(default: yes), and an optional expiry.

Exit 0 only when every check ran and passed; 3 when the file is not verified
(the reasons are printed); 1 on errors (an unreadable file or policy); 2 on
usage errors.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := cmd.Context()
			file := a[0]
			if policyPath == "" {
				return usageErrorf("--policy is required")
			}
			if len(atts) == 0 && server == "" {
				def := file + ".intoto.jsonl"
				if _, err := os.Stat(def); err != nil {
					return usageErrorf("--attestations or --server is required (no %s next to the file)", def)
				}
				atts = []string{def}
			}
			var c *client.Client
			if server != "" {
				var err error
				if c, err = client.New(server); err != nil {
					return usageErrorf("--server: %v", err)
				}
			}
			pol, err := policy.Load(ctx, policyPath)
			if err != nil {
				return err
			}
			opts := attest.VerifyOptions{Now: env.Now, ExpectName: expectName, ExpectVersion: expectVersion}
			var state *logstate.State
			if pol.Log != nil {
				// Without a state directory, verify remembers nothing (and
				// says so in a note).
				dir, _ := logstate.DefaultDir(env.Getenv)
				state = &logstate.State{Dir: dir}
				opts.LogState = state
			}
			if c != nil {
				if state != nil {
					// The centre's newest checkpoint, read before the
					// bundle: a bundle older than it is stale, and the
					// trees are proven to be one log's.
					if state.Head, err = c.Checkpoint(ctx); err != nil {
						return fmt.Errorf("verify: %w", err)
					}
					state.HeadSource = c.Server() + api.PathCheckpoint
					state.Consistency = consistencyFrom(c)
				}
				p, cleanup, err := fetchLogBundle(ctx, c, file)
				if err != nil {
					return err
				}
				defer cleanup()
				atts = append(atts, p)
			}
			if env.IsTerminal && !jsonOut {
				opts.Progress = func(s string) { printf(env.Stderr, "reprove: %s\n", s) }
				opts.Bytes = env.status.meter()
			}
			res, err := attest.Verify(ctx, file, atts, pol, opts)
			if err != nil {
				return err
			}
			if jsonOut {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return fmt.Errorf("write result: %w", err)
				}
			} else {
				printf(env.Stdout, "%s", shown(stdoutStyle(env).verdictLine(res.Text())))
			}
			if !res.Verified {
				return withCode(ExitNotReproduced)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&policyPath, "policy", "", "the trust policy (YAML)")
	f.StringArrayVarP(&atts, "attestations", "a", nil, "attestation file, bundle or directory (repeatable)")
	f.StringVar(&server, "server", "", "also read the log bundle of FILE's digest from the transparency centre at `URL`")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON (schemaVersion 1)")
	f.StringVar(&expectName, "name", "", "fail unless the attestations say the file is this program")
	f.StringVar(&expectVersion, "version", "", "fail unless the attestations say the file is this version")
	return cmd
}

// fetchLogBundle fetches FILE's log bundle from a centre into a temporary
// file for the verifier to read, as it reads one that publish wrote. The
// bundle is parsed here; its signatures and proofs are the verifier's to
// check against the policy's log key.
func fetchLogBundle(ctx context.Context, c *client.Client, file string) (path string, cleanup func(), err error) {
	d, err := ctxio.HashFile(ctx, file, nil)
	if err != nil {
		return "", nil, err
	}
	bu, err := c.FetchBundle(ctx, d)
	if errors.Is(err, client.ErrNotLogged) {
		return "", nil, fmt.Errorf("verify: %s: %w", c.Server(), err)
	}
	if err != nil {
		return "", nil, fmt.Errorf("verify: fetch the log bundle of %s from %s: %w", d, c.Server(), err)
	}
	b, err := bu.Marshal()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "reprove-verify-")
	if err != nil {
		return "", nil, err
	}
	path = filepath.Join(dir, filepath.Base(file)+pipeline.LogBundleSuffix)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return path, func() { os.RemoveAll(dir) }, nil
}

// consistencyFrom fetches consistency proofs from the centre for the log
// state; a refusal (4xx: the centre has no such trees) is the centre's
// answer, a reason to refuse, while a fault is an error.
func consistencyFrom(c *client.Client) func(context.Context, int64, int64) ([]tlog.Hash, error) {
	return func(ctx context.Context, from, to int64) ([]tlog.Hash, error) {
		p, err := c.Consistency(ctx, from, to)
		var se *client.StatusError
		if errors.As(err, &se) && se.Status < 500 {
			return nil, fmt.Errorf("%w: %v", logstate.ErrNoProof, err)
		}
		return p, err
	}
}
