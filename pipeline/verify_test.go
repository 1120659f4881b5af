package pipeline_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/pipeline"
)

// verifyPolicy trusts Alice as reviewer and rebuilder A, and the log of
// the centre at c when c is set.
func verifyPolicy(t *testing.T, c *centretest.Centre) *policy.Policy {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []*fixture.Party{centretest.Alice, centretest.RebA} {
		if err := os.WriteFile(filepath.Join(dir, p.Name+".pub"), p.PEM, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	y := "version: 1\nreviewers: {threshold: 1, keys: [{name: Alice, key: alice.pub}]}\n" +
		"rebuilders: {threshold: 1, keys: [{name: A, key: rebuilder-a.pub}]}\n"
	if c != nil {
		y += "log: {key: " + c.Log().VerifierKey() + "}\n"
	}
	p := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// Verify fetches the file's log bundle from a centre and checks it in
// memory, under a policy that pins the log: what `reprove verify --server`
// runs. A file the log holds nothing for is an error naming the centre.
func TestVerifyFromCentre(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a centre")
	}
	ctx := context.Background()
	c := centretest.Start(t, centretest.Options{})
	says := []fixture.Say{{Rebuilder: centretest.RebA}}
	rel, err := fixture.MakeReleaseWith(ctx, "hello", "1.0", []*fixture.Party{centretest.Alice}, says, fixture.Options{NoReports: true})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Publish(ctx, rel.All(says)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "hello-1.0.tar")
	os.WriteFile(file, rel.Shipped, 0o644)
	var msgs []string
	res, err := pipeline.Verify(ctx, pipeline.VerifyRequest{
		File: file, Server: c.URL, Policy: verifyPolicy(t, c), ExpectName: "hello", ExpectVersion: "1.0",
		Progress: func(e pipeline.Event) { msgs = append(msgs, e.Message) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Attestations != 4 || res.Log == "" {
		t.Fatalf("not verified from the centre (%d attestations, log %q):\n%s", res.Attestations, res.Log, res.Text())
	}
	if !slices.ContainsFunc(msgs, func(m string) bool { return strings.HasPrefix(m, "fetching the log bundle of "+rel.Digest.String()) }) {
		t.Errorf("progress %q does not say it fetched the bundle", msgs)
	}
	// Another file: the centre holds nothing for it.
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte("other"), 0o644)
	_, err = pipeline.Verify(ctx, pipeline.VerifyRequest{File: other, Server: c.URL, Policy: verifyPolicy(t, c)})
	if !errors.Is(err, pipeline.ErrNotLogged) || !strings.Contains(err.Error(), c.URL) {
		t.Errorf("a file the log does not hold: %v", err)
	}
	// No attestations and no centre: an error, not a result.
	if _, err := pipeline.Verify(ctx, pipeline.VerifyRequest{File: file, Policy: verifyPolicy(t, nil)}); err == nil {
		t.Error("verified against nothing")
	}
}

// Hashing a large file reports progress: through Bytes when set (a
// terminal's status line), else a Progress line every 64 MiB.
func TestVerifyHashProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 130 MiB")
	}
	pol := verifyPolicy(t, nil)
	dir := t.TempDir()
	big := filepath.Join(dir, "big")
	size := int64(2*ctxio.ProgressEvery + 1<<20)
	if err := os.WriteFile(big, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "none.jsonl")
	os.WriteFile(empty, []byte("\n"), 0o644)
	var lines []string
	req := pipeline.VerifyRequest{File: big, Attestations: []string{empty}, Policy: pol, Now: func() time.Time { return fixture.Time }}
	req.Progress = func(e pipeline.Event) {
		if strings.HasPrefix(e.Message, "hashed ") {
			lines = append(lines, e.Message)
		}
	}
	if _, err := pipeline.Verify(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	want := []string{"hashed 64 MiB of " + big, "hashed 128 MiB of " + big}
	if !slices.Equal(lines, want) {
		t.Errorf("progress %q, want %q", lines, want)
	}
	var last, total int64
	lines = nil
	req.Bytes = func(label string, done, of int64) { last, total = done, of }
	if _, err := pipeline.Verify(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if len(lines) > 0 {
		t.Errorf("Progress lines %q though Bytes is set", lines)
	}
	if last != size || total != size {
		t.Errorf("Bytes ended at %d of %d, want %d of %d", last, total, size, size)
	}
}
