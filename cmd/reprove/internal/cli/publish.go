package cli

import (
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/internal/english"
	"github.com/reprove/reprove/pipeline"
)

func newPublishCmd(env *Env) *cobra.Command {
	var (
		server, key, out string
		reports          []string
		jsonOut          bool
	)
	cmd := &cobra.Command{
		Use:   "publish --server URL FILES...",
		Short: "Publish attestations to a transparency centre and keep its log bundles",
		Long: `Publish signed attestations (DSSE envelope files, JSON Lines bundles or
directories of them, as reprove verify reads) to a transparency centre in one
submission, and compare reports (--compare-report, compare --json) after them.
Every reply is checked: each attestation's inclusion proof to the log's
signed checkpoint.

Then, for each artifact the attestations are about (the shipped files of the
verification summaries; the outputs of rebuilds when there is no summary), it
fetches the log bundle (every attestation the log holds for the file, with
inclusion proofs and the log's signed artifact index), checks it, and writes
it beside the first FILE (or in --out) as NAME.log-bundle.json, for reprove
verify to check offline (a policy naming the log counts only what it proves).

--key is the log's verifier key (as reprove serve prints it, or a file
holding it). Without it the key the centre names is used, and said so:
pin the key you got from the centre's operator.`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			ctx := cmd.Context()
			if server == "" {
				return usageErrorf("--server is required")
			}
			if _, err := client.New(server); err != nil {
				return usageErrorf("--server: %v", err)
			}
			if _, err := pipeline.ReadLogKey(key); err != nil {
				return usageErrorf("--key: %v", err)
			}
			rep, err := pipeline.Publish(ctx, pipeline.PublishRequest{Server: server, LogKey: key, Files: files, CompareReports: reports, BundleDir: out})
			if err != nil {
				return err
			}
			if rep.KeyPinned && !jsonOut {
				printf(env.Stderr, "reprove: no --key given: trusting the key the centre names, %s\n", rep.VerifierKey)
			}
			if jsonOut {
				return writeJSONOut(env, rep)
			}
			printPublish(env, rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "the centre's `URL`")
	f.StringVar(&key, "key", "", "the log's verifier `KEY` (or a file holding it)")
	f.StringVar(&out, "out", "", "write the log bundles in `DIR` (default: beside the first FILE)")
	f.StringArrayVar(&reports, "compare-report", nil, "also publish this compare report `FILE` (compare --json; repeatable)")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON (schemaVersion 1)")
	return cmd
}

func printPublish(env *Env, rep *pipeline.PublishResult) {
	news := 0
	for _, d := range rep.Documents {
		if d.New {
			news++
		}
	}
	printf(env.Stdout, "published %s to %s: %d new, %d already logged; tree size %d\n",
		english.Count(len(rep.Documents), "attestation"), rep.Server, news, len(rep.Documents)-news, rep.TreeSize)
	for _, list := range [][]pipeline.PublishedDoc{rep.Documents, rep.CompareReports} {
		for _, d := range list {
			state := "new"
			if !d.New {
				state = "already logged"
			}
			printf(env.Stdout, "  entry %d: %s %s (%s)\n", d.Index, d.Kind, d.Source, state)
		}
	}
	for _, b := range rep.Bundles {
		printf(env.Stdout, "wrote %s: %s for %s at tree size %d\n", b.Path, english.Count(b.Entries, "entry", "entries"), b.Subject, b.TreeSize)
	}
	if len(rep.Bundles) == 0 {
		printLine(env.Stdout, "no log bundle written: no summary or rebuild names an artifact")
	}
}
