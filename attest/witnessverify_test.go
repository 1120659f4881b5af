package attest

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/logproof/logprooftest"
	"github.com/reprove/reprove/attest/logproof/logstate"
)

// BenchmarkVerifyWitnessed measures what witnessed checkpoints add to
// `reprove verify` with a log bundle: the same bundle, verified end to end,
// once under a policy that names only the log and once with its checkpoint
// cosigned by two witnesses, under a policy that requires both within
// maxAge and with the customer's memory of the log (the state file read,
// checked and written, under its lock). The target is at most 5 ms more.
func BenchmarkVerifyWitnessed(b *testing.B) {
	f := newFixture(b, identicalA, identicalB)
	l := newTestLog(b, "log.example.org")
	file := filepath.Join(b.TempDir(), "hello")
	os.WriteFile(file, shippedBytes, 0o644)
	bu := l.bundle(b, digest.FromBytes(shippedBytes), f.envList())
	plain, err := bu.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	witnesses := "  witnesses:\n    threshold: 2\n    keys:\n"
	signed := []byte(bu.Checkpoint)
	for _, name := range []string{"witness-a.example", "witness-b.example"} {
		w, err := logprooftest.NewWitness(name)
		if err != nil {
			b.Fatal(err)
		}
		bu.Checkpoint += string(w.Cosign(signed, testNow.Add(-time.Minute)))
		witnesses += "      - name: " + name + "\n        key: " + w.Key + "\n"
	}
	cosigned, err := bu.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	plainPath, cosignedPath := filepath.Join(dir, "plain.log-bundle.json"), filepath.Join(dir, "cosigned.log-bundle.json")
	os.WriteFile(plainPath, plain, 0o644)
	os.WriteFile(cosignedPath, cosigned, 0o644)
	logKey := "log:\n  key: " + l.vkey + "\n"
	for _, bc := range []struct {
		name  string
		atts  string
		yaml  string
		state bool
	}{
		{"log-bundle", plainPath, logKey, false},
		{"witnessed-bundle", cosignedPath, logKey + witnesses + "  maxAge: 24h\n", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pol := mustPolicy(b, f.policyYAML(1, 2, bc.yaml))
			opts := VerifyOptions{Now: func() time.Time { return testNow }}
			if bc.state {
				opts.LogState = &logstate.State{Dir: b.TempDir()}
			}
			cpu0 := cpuTime()
			for b.Loop() {
				res, err := verifyFiles(context.Background(), file, []string{bc.atts}, pol, opts)
				if err != nil {
					b.Fatal(err)
				}
				if !res.Verified {
					b.Fatalf("not verified:\n%s", res.Text())
				}
			}
			// CPU time as well as wall time: on a machine shared with
			// other work, the wall time measures the scheduler too.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
