package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/internal/atomicfile"
)

// publishReport is `reprove publish --json` (schemas/centre-publish.schema.json).
type publishReport struct {
	SchemaVersion  int             `json:"schemaVersion"`
	Server         string          `json:"server"`
	VerifierKey    string          `json:"verifierKey"`
	KeyPinned      bool            `json:"keyPinned"`
	TreeSize       int64           `json:"treeSize"`
	Checkpoint     string          `json:"checkpoint"`
	Documents      []publishedDoc  `json:"documents"`
	CompareReports []publishedDoc  `json:"compareReports"`
	Bundles        []writtenBundle `json:"bundles"`
}

type publishedDoc struct {
	Source        string        `json:"source"`
	Index         int64         `json:"index"`
	New           bool          `json:"new"`
	Kind          string        `json:"kind"`
	PayloadDigest digest.Digest `json:"payloadDigest"`
}

type writtenBundle struct {
	Subject  digest.Digest `json:"subject"`
	Name     string        `json:"name,omitempty"`
	Path     string        `json:"path"`
	Entries  int           `json:"entries"`
	TreeSize int64         `json:"treeSize"`
}

// BundleSuffix ends the name of a log bundle file that publish writes;
// reprove verify reads it (by its mediaType) from -a, or from a directory.
const BundleSuffix = ".log-bundle.json"

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
			c, err := client.New(server)
			if err != nil {
				return usageErrorf("--server: %v", err)
			}
			docs, err := attest.ReadDocuments(ctx, files)
			if err != nil {
				return err
			}
			if len(docs) == 0 {
				return fmt.Errorf("publish: no attestations in %s", strings.Join(files, ", "))
			}
			var envs, leaves [][]byte
			for _, d := range docs {
				if d.Err != nil {
					return fmt.Errorf("%s: %w", d.Source, d.Err)
				}
				leaf, err := client.EnvelopeLeaf(d.Envelope.Raw)
				if err != nil {
					return fmt.Errorf("%s: %w", d.Source, err)
				}
				envs, leaves = append(envs, d.Envelope.Raw), append(leaves, leaf)
			}
			if len(envs) > api.MaxEnvelopes {
				return fmt.Errorf("publish: %d attestations, more than one submission holds (%d)", len(envs), api.MaxEnvelopes)
			}
			var reportBodies [][]byte
			for _, p := range reports {
				b, err := os.ReadFile(p)
				if err != nil {
					return fmt.Errorf("publish: %w", err)
				}
				if _, _, err := item.CheckCompareReport(b); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				reportBodies = append(reportBodies, b)
			}
			rep := &publishReport{SchemaVersion: 1, Server: c.Server(), Documents: []publishedDoc{}, CompareReports: []publishedDoc{}, Bundles: []writtenBundle{}}
			v, err := logVerifier(ctx, c, key, rep)
			if err != nil {
				return err
			}
			if rep.KeyPinned && !jsonOut {
				fmt.Fprintf(env.Stderr, "reprove: no --key given: trusting the key the centre names, %s\n", rep.VerifierKey)
			}

			sub, err := c.Publish(ctx, envs)
			if err != nil {
				return err
			}
			cp, err := client.CheckReply(sub, v, leaves)
			if err != nil {
				return err
			}
			rep.TreeSize, rep.Checkpoint = cp.Size, sub.Checkpoint
			for i, e := range sub.Entries {
				rep.Documents = append(rep.Documents, publishedDoc{Source: docs[i].Source, Index: e.Index, New: e.New, Kind: e.Kind, PayloadDigest: e.PayloadDigest})
			}
			for i, b := range reportBodies {
				r, err := c.PublishCompareReport(ctx, b)
				if err != nil {
					return fmt.Errorf("%s: %w", reports[i], err)
				}
				leaf, err := logproof.CompareReportLeaf(digest.FromBytes(b))
				if err != nil {
					return err
				}
				rcp, err := client.CheckReply(r, v, [][]byte{leaf})
				if err != nil {
					return fmt.Errorf("%s: %w", reports[i], err)
				}
				e := r.Entries[0]
				rep.CompareReports = append(rep.CompareReports, publishedDoc{Source: reports[i], Index: e.Index, New: e.New, Kind: e.Kind, PayloadDigest: e.PayloadDigest})
				rep.TreeSize, rep.Checkpoint = rcp.Size, r.Checkpoint
			}

			dir := out
			if dir == "" {
				dir = filepath.Dir(files[0])
				if fi, err := os.Stat(files[0]); err == nil && fi.IsDir() {
					dir = files[0]
				}
			}
			for _, a := range artifactsOf(docs) {
				bu, err := c.FetchBundle(ctx, a.digest)
				if err != nil {
					return err
				}
				bcp, _, err := client.CheckBundle(bu, v, a.digest)
				if err != nil {
					return err
				}
				b, err := bu.Marshal()
				if err != nil {
					return err
				}
				path := filepath.Join(dir, a.file+BundleSuffix)
				if err := atomicfile.Write(path, b, 0o644); err != nil {
					return fmt.Errorf("write log bundle: %w", err)
				}
				rep.Bundles = append(rep.Bundles, writtenBundle{Subject: a.digest, Name: a.name, Path: path, Entries: len(bu.Entries), TreeSize: bcp.Size})
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

// logVerifier returns the verifier of the log's key: the one given (text
// or a file), else the one the centre names.
func logVerifier(ctx context.Context, c *client.Client, key string, rep *publishReport) (*logproof.Verifier, error) {
	vkey, err := readLogKey(key)
	if err != nil {
		return nil, err
	}
	if vkey == "" {
		info, err := c.Log(ctx)
		if err != nil {
			return nil, err
		}
		vkey, rep.KeyPinned = info.VerifierKey, true
	}
	rep.VerifierKey = vkey
	v, err := logproof.NewVerifier(vkey)
	if err != nil {
		return nil, usageErrorf("--key: %v", err)
	}
	return v, nil
}

// readLogKey reads --key: a note verifier key, or a file holding one.
func readLogKey(key string) (string, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return "", nil
	}
	if _, err := logproof.NewVerifier(key); err == nil {
		return key, nil
	}
	b, err := os.ReadFile(key)
	if err != nil {
		return "", usageErrorf("--key: neither a verifier key nor a readable file: %v", err)
	}
	return strings.TrimSpace(string(b)), nil
}

type artifact struct {
	digest digest.Digest
	name   string
	file   string // the bundle's file name, without the suffix
}

// artifactsOf lists the artifacts to keep bundles for: the subjects of the
// summaries, or of the rebuilds when there is no summary.
func artifactsOf(docs []attest.Document) []artifact {
	bySummary, byRebuild := map[digest.Digest]string{}, map[digest.Digest]string{}
	for _, d := range docs {
		st, err := attest.ParseStatement(d.Envelope.Payload)
		if err != nil {
			continue
		}
		target := byRebuild
		switch st.PredicateType {
		case attest.SummaryPredicateType, attest.VSAPredicateType, attest.ComparisonPredicateType:
			target = bySummary
		case attest.ProvenancePredicateType:
		default:
			continue
		}
		for _, s := range st.Subject {
			if dg, ok := s.Digest.Digest(digest.SHA256); ok {
				if _, seen := target[dg]; !seen || target[dg] == "" {
					target[dg] = s.Name
				}
			}
		}
	}
	chosen := bySummary
	if len(chosen) == 0 {
		chosen = byRebuild
	}
	var out []artifact
	used := map[string]bool{}
	for d, name := range chosen {
		out = append(out, artifact{digest: d, name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name+string(out[i].digest) < out[j].name+string(out[j].digest) })
	for i := range out {
		base := safeName(filepath.Base(out[i].name))
		file := base
		if file == "" || used[file] {
			file = "sha256-" + out[i].digest.Encoded()[:12]
			if base != "" {
				file = base + "-" + file
			}
		}
		used[file] = true
		out[i].file = file
	}
	return out
}

// safeName keeps letters, digits, dots, dashes and underscores.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
	return strings.Trim(s, "._")
}

func printPublish(env *Env, rep *publishReport) {
	news := 0
	for _, d := range rep.Documents {
		if d.New {
			news++
		}
	}
	fmt.Fprintf(env.Stdout, "published %d attestations to %s: %d new, %d already logged; tree size %d\n",
		len(rep.Documents), rep.Server, news, len(rep.Documents)-news, rep.TreeSize)
	for _, list := range [][]publishedDoc{rep.Documents, rep.CompareReports} {
		for _, d := range list {
			state := "new"
			if !d.New {
				state = "already logged"
			}
			fmt.Fprintf(env.Stdout, "  entry %d: %s %s (%s)\n", d.Index, d.Kind, d.Source, state)
		}
	}
	for _, b := range rep.Bundles {
		fmt.Fprintf(env.Stdout, "wrote %s: %d entries for %s at tree size %d\n", b.Path, b.Entries, b.Subject, b.TreeSize)
	}
	if len(rep.Bundles) == 0 {
		fmt.Fprintln(env.Stdout, "no log bundle written: no summary or rebuild names an artifact")
	}
}
