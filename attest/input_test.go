package attest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
)

// TestVerifyRefusesNonRegular: a FIFO given as the file or as an
// attestation is refused at once (reading one would block forever), and a
// FIFO inside an attestation directory is skipped.
func TestVerifyRefusesNonRegular(t *testing.T) {
	f := newFixture(t, identicalA)
	pol := mustPolicy(t, f.policyYAML(1, 1, ""))
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	atts := filepath.Join(dir, "atts")
	os.Mkdir(atts, 0o755)
	for _, n := range f.order {
		os.WriteFile(filepath.Join(atts, n+".json"), f.envs[n], 0o644)
	}
	if err := syscall.Mkfifo(filepath.Join(atts, "zz-pipe.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Now: func() time.Time { return testNow }}
	tests := []struct {
		name string
		file string
		atts []string
		want string // "" means verified
	}{
		{"FIFO as the file", fifo, []string{atts}, "hash file: " + fifo + ": not a regular file (it is a FIFO)"},
		{"FIFO as an attestation", f.file, []string{fifo}, "read attestations: " + fifo + ": not a regular file (it is a FIFO)"},
		{"directory as the file", atts, []string{atts}, "not a regular file (it is a directory)"},
		{"FIFO in a directory is skipped", f.file, []string{atts}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{})
			var res *Result
			var err error
			go func() {
				defer close(done)
				res, err = verifyFiles(context.Background(), tt.file, tt.atts, pol, opts)
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("verify hangs")
			}
			if tt.want == "" {
				if err != nil || !res.Verified {
					t.Fatalf("err %v, result %v", err, res)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
		})
	}
}

// bigEnvelope is a validly signed envelope of about size bytes whose
// statement is of no type reprove reads.
func bigEnvelope(t testing.TB, size int, signer string) []byte {
	t.Helper()
	k := loadTestKeys(t)
	st := map[string]any{
		"_type":         StatementV1,
		"subject":       []any{map[string]any{"name": "x", "digest": map[string]any{"sha256": digest.FromString("x").Encoded()}}},
		"predicateType": "https://example.com/junk",
		"predicate":     map[string]any{"junk": strings.Repeat("j", size*3/4)},
	}
	p, _ := json.Marshal(st)
	env, err := envelope.Sign(context.Background(), p, k.signers[signer])
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestVerifyInputBudget: attestations beyond the total budget are refused
// with an error that names the budget, before they are all read.
func TestVerifyInputBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300 MiB")
	}
	f := newFixture(t, identicalA)
	pol := mustPolicy(t, f.policyYAML(1, 1, ""))
	dir := t.TempDir()
	env := bigEnvelope(t, 15<<20, "stranger")
	for i := 0; i < 20; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("big%02d.json", i)), env, 0o644)
	}
	_, err := verifyFiles(context.Background(), f.file, []string{dir}, pol, VerifyOptions{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d bytes of attestations in all", MaxInputSize)) {
		t.Fatalf("err %v, want the input budget", err)
	}
	// One file over the per-file bound.
	huge := filepath.Join(t.TempDir(), "huge.json")
	os.WriteFile(huge, append(env, make([]byte, MaxFileSize)...), 0o644)
	if _, err := verifyFiles(context.Background(), f.file, []string{huge}, pol, VerifyOptions{}); err == nil || !strings.Contains(err.Error(), "more than 67108864") {
		t.Fatalf("err %v, want the per-file bound", err)
	}
}

// TestVerifyCancelled: a cancelled context stops verification with the
// context's error.
func TestVerifyCancelled(t *testing.T) {
	f := newFixture(t, identicalA)
	pol := mustPolicy(t, f.policyYAML(1, 1, ""))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := verifyFiles(ctx, f.file, []string{f.dir}, pol, VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// TestVerifyManyLargeEnvelopes: a directory of 16 envelopes of 15 MiB each
// (the hostile input of issue 9, half of them signed by a trusted key) is
// read one file at a time: verification completes, says why it is not
// verified, and the heap stays a small multiple of one file.
func TestVerifyManyLargeEnvelopes(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 240 MiB")
	}
	f := newFixture(t, identicalA)
	pol := mustPolicy(t, f.policyYAML(1, 1, ""))
	dir := t.TempDir()
	for i, signer := range []string{"stranger", "rebuilderA"} {
		env := bigEnvelope(t, 15<<20, signer)
		for j := 0; j < 8; j++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("big%d%d.json", i, j)), env, 0o644)
		}
	}
	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	start := time.Now()
	res, err := verifyFiles(context.Background(), f.file, []string{dir}, pol, VerifyOptions{})
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified || res.Attestations != 16 {
		t.Fatalf("verified %v with %d attestations", res.Verified, res.Attestations)
	}
	t.Logf("16 × 15 MiB envelopes: %v, peak heap in use %d MiB", time.Since(start).Round(time.Millisecond), peak>>20)
	// Held at once: one file, its decoded payload and the verifier's
	// copies of it, plus the one trusted statement kept (a statement is
	// kept once however many envelopes carry it).
	if peak > 400<<20 {
		t.Errorf("peak heap %d MiB: the input is not streamed", peak>>20)
	}
}
