package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/attest/logproof/logstate"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/centre/client"
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
			if server != "" {
				if _, err := client.New(server); err != nil {
					return usageErrorf("--server: %v", err)
				}
			}
			pol, err := policy.Load(ctx, policyPath)
			if err != nil {
				return err
			}
			// Without a state directory, verify remembers no log's tree
			// (and says so in a note).
			stateDir, _ := logstate.DefaultDir(env.Getenv)
			req := pipeline.VerifyRequest{
				File: file, Attestations: atts, Server: server, Policy: pol,
				ExpectName: expectName, ExpectVersion: expectVersion, Now: env.Now,
				StateDir: stateDir,
			}
			if env.IsTerminal && !jsonOut {
				req.Progress = func(e pipeline.Event) { printf(env.Stderr, "reprove: %s\n", e.Message) }
				req.Bytes = env.status.meter()
			}
			res, err := pipeline.Verify(ctx, req)
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
