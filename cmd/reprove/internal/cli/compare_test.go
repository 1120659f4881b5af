package cli

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/compare/fixture"
)

func init() {
	scriptCmds["mkarchive"] = mkarchive
	scriptCmds["truncate"] = truncateFile
	scriptCmds["mkgoexe"] = mkgoexe
}

// mkgoexe OUT GOOS/GOARCH MESSAGE builds a Go program printing MESSAGE
// as releases are built (-trimpath, -ldflags=-s -w, CGO off), with this
// test process's Go caches so it takes a second.
func mkgoexe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: mkgoexe OUT GOOS/GOARCH MESSAGE")
	}
	goos, goarch, ok := strings.Cut(args[1], "/")
	if !ok {
		ts.Fatalf("mkgoexe: %q is not GOOS/GOARCH", args[1])
	}
	dir, err := os.MkdirTemp(ts.MkAbs("."), "mkgoexe-")
	ts.Check(err)
	defer os.RemoveAll(dir)
	ts.Check(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.21\n"), 0o644))
	src := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + args[2] + "\") }\n"
	ts.Check(os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644))
	gotool, err := exec.LookPath("go")
	if err != nil {
		gotool = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(gotool, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", ts.MkAbs(args[0]), ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("mkgoexe: go build: %v\n%s", err, out)
	}
}

// truncate FILE SIZE cuts a script file to SIZE bytes (a damaged download).
func truncateFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), n))
}

// mkarchive FORMAT OUT [-mtime=UNIX] [-gzip-mtime=UNIX] NAME=SRC[:MODE]...
// writes an archive (tar, tar.gz or zip) whose members hold the contents
// of script files, so scripts can compare real archives.
func mkarchive(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! mkarchive")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: mkarchive FORMAT OUT [-mtime=N] [-gzip-mtime=N] NAME=SRC[:MODE]...")
	}
	format, out := args[0], args[1]
	mtime, gzMtime := fixture.Epoch, fixture.Epoch
	var ms []fixture.Member
	for _, a := range args[2:] {
		switch {
		case strings.HasPrefix(a, "-mtime="):
			n, err := strconv.ParseInt(strings.TrimPrefix(a, "-mtime="), 10, 64)
			ts.Check(err)
			mtime = time.Unix(n, 0)
		case strings.HasPrefix(a, "-gzip-mtime="):
			n, err := strconv.ParseInt(strings.TrimPrefix(a, "-gzip-mtime="), 10, 64)
			ts.Check(err)
			gzMtime = time.Unix(n, 0)
		default:
			name, src, ok := strings.Cut(a, "=")
			if !ok {
				ts.Fatalf("mkarchive: bad member %q", a)
			}
			src, modeStr, _ := strings.Cut(src, ":")
			mode := int64(0o644)
			if modeStr != "" {
				m, err := strconv.ParseInt(modeStr, 8, 64)
				ts.Check(err)
				mode = m
			}
			m := fixture.Member{Name: name, Mode: mode, Mtime: mtime, Type: tar.TypeReg}
			m.Body = []byte(ts.ReadFile(src))
			ms = append(ms, m)
		}
	}
	var data []byte
	switch format {
	case "tar":
		data = fixture.Tar(ms...)
	case "tar.gz":
		data = fixture.Gzip(fixture.Tar(ms...), gzMtime, 6)
	case "zip":
		data = fixture.Zip(6, ms...)
	default:
		ts.Fatalf("mkarchive: unknown format %q", format)
	}
	ts.Check(os.WriteFile(ts.MkAbs(out), data, 0o644))
}
