package pipeline_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes/infer"
)

// buildHello builds a small Go program as releases are built (-trimpath,
// -s -w, CGO off), with nothing of the host's Go configuration.
func buildHello(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"go.mod":  "module example.com/tool/v2\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n",
	} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goCmd := "/usr/local/go/bin/go"
	if p, err := exec.LookPath("go"); err == nil {
		goCmd = p
	}
	out := filepath.Join(dir, "tool")
	cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local", "GOPROXY=off", "GOWORK=off", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// TestInfer calls infer as the library the CLI calls: from a file, and
// from a member of an npm package whose package.json names the version.
func TestInfer(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bin := buildHello(t, dir)
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}

	res, err := pipeline.Infer(ctx, pipeline.InferRequest{Binary: bin, RecipeFile: filepath.Join(dir, "tool.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Recipe
	if r.Name != "tool" {
		t.Errorf("name %q, want tool (the element before /v2)", r.Name)
	}
	sh := r.Outputs[0].Shipped
	if sh.Path != "tool" || sh.Digest != digest.FromBytes(b) || res.Facts.Digest != sh.Digest {
		t.Errorf("shipped %+v, want the binary, named relative to the recipe", sh)
	}
	if !slices.ContainsFunc(res.Findings, func(f infer.Finding) bool {
		return f.Certainty == infer.Certain && f.Topic == "-ldflags" && f.Value == "-s -w"
	}) {
		t.Errorf("findings %+v lack the certain -s -w", res.Findings)
	}
	if len(res.Candidates) < 2 || res.Incomplete == nil {
		t.Errorf("candidates %d, incomplete %v: want the -s -w spellings, and a recipe incomplete without a source", len(res.Candidates), res.Incomplete)
	}

	// The same program in an npm package.
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for name, body := range map[string][]byte{
		"package/package.json": []byte(`{"name": "@example/tool-linux-x64", "version": "2.3.4"}`),
		"package/bin/tool":     b,
	} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	archive := filepath.Join(dir, "tool-2.3.4.tgz")
	if err := os.WriteFile(archive, tgz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err = pipeline.Infer(ctx, pipeline.InferRequest{Binary: archive, Member: "package/bin/tool", ShippedURL: "https://registry.example/tool-2.3.4.tgz"})
	if err != nil {
		t.Fatal(err)
	}
	sh = res.Recipe.Outputs[0].Shipped
	if res.Recipe.Version != "2.3.4" || sh.URL == "" || sh.Path != "" || sh.Digest != digest.FromBytes(tgz.Bytes()) ||
		sh.MemberDigest != digest.FromBytes(b) || res.ArchiveDigest != sh.Digest {
		t.Errorf("from the package: version %q, shipped %+v", res.Recipe.Version, sh)
	}

	// A member that is not there is named, with the archive.
	_, err = pipeline.Infer(ctx, pipeline.InferRequest{Binary: archive, Member: "package/bin/other"})
	if err == nil || !strings.Contains(err.Error(), "package/bin/other") {
		t.Errorf("missing member: %v", err)
	}
}
