package worker_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/fleet/fleettest"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/fleet/worker"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
)

// TestInferJobs runs infer jobs as the watchers enqueue them, on a worker
// in this process that shares the test cache (images, toolchains):
// gofmt of Go 1.26.8 from the module proxy's toolchain zip is inferred
// (the catalogue's recipe) and rebuilt identical; an npm-like tarball
// whose program is no Go binary fails at once, as a result, never
// retried.
func TestInferJobs(t *testing.T) {
	buildertest.NeedContainerd(t)
	ctx := context.Background()
	d := buildertest.Daemon(t)
	q, err := queue.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()

	var tgz bytes.Buffer
	gz := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(gz)
	script := []byte("#!/bin/sh\necho not a Go program\n")
	tw.WriteHeader(&tar.Header{Name: "package/bin/tool", Mode: 0o755, Size: int64(len(script)), ModTime: time.Unix(0, 0)})
	tw.Write(script)
	tw.Close()
	gz.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tgz.Bytes()) }))
	defer srv.Close()
	sum := sha512.Sum512(tgz.Bytes())

	const mv = "v0.0.1-go1.26.8.linux-amd64"
	gofmt, err := q.Enqueue(ctx, queue.InferArgs{Release: queue.Release{Ecosystem: "go", Watch: "go", Name: "gofmt", Version: "go1.26.8"},
		Artifact: queue.Artifact{Module: recipes.ToolchainModule, ModuleVersion: mv, Member: recipes.ToolchainModule + "@" + mv + "/bin/gofmt", Recipe: queue.Inferred}})
	if err != nil {
		t.Fatal(err)
	}
	tool, err := q.Enqueue(ctx, queue.InferArgs{Release: queue.Release{Ecosystem: "npm", Watch: "npm", Name: "tool", Version: "1.0.0"},
		Artifact: queue.Artifact{URL: srv.URL + "/tool-1.0.0.tgz", Digest: digest.NewDigestFromBytes(digest.SHA512, sum[:]), Member: "package/bin/tool", Recipe: queue.Inferred}})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- worker.Run(wctx, worker.Config{Queue: q, Name: "infer", Signer: fixture.MustParty("infer").Signer, PollInterval: 100 * time.Millisecond,
			Logf:    t.Logf,
			Runtime: pipeline.Runtime{ContainerdAddress: d.Address, CacheDir: buildertest.CacheDir(t), ReproveVersion: "test"}}, nil)
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	fleettest.WaitFor(t, 15*time.Minute, "the infer jobs", func() (bool, error) {
		jobs, err := q.Jobs(ctx, queue.JobFilter{Builds: true})
		if err != nil {
			return false, err
		}
		for _, j := range jobs {
			if j.Outcome == queue.Pending {
				return false, nil
			}
		}
		return true, nil
	})

	res, err := q.Result(ctx, gofmt.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != queue.Identical || res.Attempt != 1 {
		t.Fatalf("gofmt: %s on attempt %d: %s\n%s", res.Outcome, res.Attempt, res.Error, res.Log)
	}
	cat, err := recipes.Load(ctx, "../../recipes/catalogue/gofmt-go1.26.8.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := recipes.Parse("inferred", res.Recipe)
	if err != nil {
		t.Fatal(err)
	}
	got.Name, got.Limits = cat.Name, cat.Limits
	want, _ := cat.Canonical()
	have, _ := got.Canonical()
	if diff := cmp.Diff(string(want), string(have)); diff != "" {
		t.Errorf("the inferred recipe differs from the catalogue's (-catalogue +inferred):\n%s", diff)
	}

	res, err = q.Result(ctx, tool.ID)
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := q.Jobs(ctx, queue.JobFilter{IDs: []int64{tool.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != queue.Failed || !strings.HasPrefix(res.Error, "infer a recipe for package/bin/tool in "+srv.URL+"/tool-1.0.0.tgz: read executable package/bin/tool in ") ||
		!strings.HasSuffix(res.Error, ": not an executable (ELF, PE or Mach-O)") || jobs[0].Attempt != 1 {
		t.Errorf("the non-Go program: %s on attempt %d: %s", res.Outcome, jobs[0].Attempt, res.Error)
	}
}
