package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/policy"
)

func newVerifyCmd(env *Env) *cobra.Command {
	var (
		policyPath string
		atts       []string
		jsonOut    bool

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
			if len(atts) == 0 {
				def := file + ".intoto.jsonl"
				if _, err := os.Stat(def); err != nil {
					return usageErrorf("--attestations is required (no %s next to the file)", def)
				}
				atts = []string{def}
			}
			pol, err := policy.Load(ctx, policyPath)
			if err != nil {
				return err
			}
			opts := attest.VerifyOptions{Now: env.Now, ExpectName: expectName, ExpectVersion: expectVersion}
			if env.IsTerminal && !jsonOut {
				opts.Progress = func(s string) { fmt.Fprintf(env.Stderr, "reprove: %s\n", s) }
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
				fmt.Fprint(env.Stdout, res.Text())
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
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON (schemaVersion 1)")
	f.StringVar(&expectName, "name", "", "fail unless the attestations say the file is this program")
	f.StringVar(&expectVersion, "version", "", "fail unless the attestations say the file is this version")
	return cmd
}
