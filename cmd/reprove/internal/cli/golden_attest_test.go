package cli

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
)

// The one-line reports of the signing commands, as an auditor and a
// rebuilder see them: key generate, review (and a co-signature), attest
// rebuild, attest summary (identical, different, before any review), and
// the main ways each refuses.
func TestGoldenAttest(t *testing.T) {
	tr := newTranscript(t)
	goldenKeys(t, tr.dir, "alice", "bob", "a")
	rebuild := func(name string, output []byte, exit int) string {
		b, err := json.MarshalIndent(&attest.Rebuild{
			SchemaVersion:  attest.RebuildSchemaVersion,
			Recipe:         attest.RecipeRef{Name: "hello", Version: "1.0", URI: "recipes/hello.yaml", Digest: digest.FromString("the recipe")},
			Source:         attest.Source{URI: "https://example.com/hello-1.0.tar", Archive: digest.FromString("src.tar")},
			BuilderID:      "https://a.rebuilders.example/reprove",
			ReproveVersion: "v0.1.0",
			Commands:       [][]string{{"go", "build", "-trimpath", "-o", "/out/hello", "."}},
			StartedOn:      goldenRebuildTime,
			FinishedOn:     goldenRebuildTime.Add(42 * time.Second),
			ExitCode:       exit,
			Outputs:        []attest.Output{{Name: "hello", Digest: digest.FromBytes(output)}},
		}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	writeFiles(t, tr.dir, map[string]string{
		"hello":         string(goldenShipped),
		"other":         string(goldenOther),
		"src.tar":       "src.tar",
		"report.txt":    "No findings.\n",
		"result.json":   rebuild("hello", goldenShipped, 0),
		"other.json":    rebuild("hello", goldenOther, 0),
		"failed.json":   rebuild("hello", goldenShipped, 2),
		"src/go.mod":    "module example.com/hello\n\ngo 1.22\n",
		"src/main.go":   "package main\n\nfunc main() {}\n",
		"not-json.json": "{",
	})

	// A new key pair: its fingerprint is random (numbered by the fixups).
	tr.env["REPROVE_PASSWORD"] = "secret"
	tr.run("key", "generate", "--output-key-prefix", "carol")
	tr.run("key", "generate", "--output-key-prefix", "carol")
	tr.env["REPROVE_PASSWORD"] = ""
	tr.run("key", "generate", "--output-key-prefix", "nopw")

	tr.env["REPROVE_PASSWORD"] = goldenPassword
	// The auditor signs a review of the archive, then one of a checkout
	// (its tree digest), timed by the fixed clock.
	tr.run("review", "--key", "alice.key", "--source-uri", "https://example.com/hello-1.0.tar", "--archive", "src.tar",
		"--reviewer", "mailto:alice@audits.example", "--reviewer-name", "Alice", "--verdict", "approved",
		"--report", "report.txt", "--time", "2026-11-01T09:30:00Z", "-o", "review.json")
	tr.run("review", "--key", "alice.key", "--source-uri", "git+https://example.com/hello.git",
		"--commit", "0123456789abcdef0123456789abcdef01234567", "--tree-dir", "src",
		"--reviewer", "mailto:alice@audits.example", "--verdict", "findings", "--scope", "main.go", "-o", "tree.review.sigstore.json")
	tr.run("review", "--cosign", "review.json", "--key", "bob.key", "-o", "review2.json")
	tr.run("review", "--cosign", "review2.json", "--key", "bob.key", "-o", "review3.json")
	tr.run("review", "--key", "alice.key", "--source-uri", "git+https://example.com/hello.git",
		"--commit", "0123456789abcdef0123456789abcdef01234567", "--reviewer", "mailto:alice@audits.example", "--verdict", "approved", "-o", "bad.json")
	tr.run("review", "--key", "alice.key", "--archive", "src.tar", "--reviewer", "mailto:alice@audits.example", "--verdict", "maybe", "-o", "bad.json")
	tr.run("review", "--key", "alice.key", "--archive", "src.tar", "--reviewer", "mailto:alice@audits.example", "--verdict", "approved")
	tr.run("review", "--key", "alice.key", "--archive", "src.tar", "--reviewer", "mailto:alice@audits.example", "--verdict", "approved", "-o", "review.json")
	tr.env["REPROVE_PASSWORD"] = "wrong"
	tr.run("review", "--key", "alice.key", "--archive", "src.tar", "--reviewer", "mailto:alice@audits.example", "--verdict", "approved", "-o", "bad.json")

	// The rebuilder signs provenance and summaries.
	tr.env["REPROVE_PASSWORD"] = goldenPassword
	tr.run("attest", "rebuild", "--key", "a.key", "--result", "result.json", "-o", "rebuild.json")
	tr.run("attest", "rebuild", "--key", "a.key", "--result", "other.json", "-o", "rebuild-other.sigstore.json")
	tr.run("attest", "rebuild", "--key", "a.key", "--result", "failed.json", "-o", "failed.intoto.json")
	tr.run("attest", "rebuild", "--key", "a.key", "--result", "not-json.json", "-o", "x.json")
	tr.run("attest", "summary", "--key", "a.key", "--shipped", "hello", "--rebuild", "rebuild.json", "--review", "review.json",
		"--verifier", "https://a.rebuilders.example", "-o", "summary.json")
	tr.run("attest", "summary", "--key", "a.key", "--shipped", "hello", "--rebuild", "rebuild.json", "-o", "early.sigstore.json")
	tr.run("attest", "summary", "--key", "a.key", "--shipped", "hello", "--rebuilt", "other", "--rebuild", "rebuild-other.sigstore.json",
		"--review", "review2.json", "-o", "different.json")
	tr.run("attest", "summary", "--key", "a.key", "--shipped", "other", "--rebuild", "rebuild.json", "-o", "s2.json")
	tr.run("attest", "summary", "--key", "a.key", "--shipped", "hello", "--rebuild", "review.json", "-o", "s2.json")
	tr.run("attest", "summary", "--key", "a.key", "--shipped", "hello", "--rebuild", "rebuild.json", "--compare", "x.json", "--rebuilt", "other", "-o", "s2.json")
	tr.check("attest")
}
