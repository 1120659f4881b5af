//go:build linux && amd64

package clockshift_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reprove/reprove/builder/check/clockshift"
)

// run runs args with the clock shifted and returns what they printed.
func run(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code, err := clockshift.Run(clockshift.Cmd{Args: args, Env: os.Environ(), Stdout: f, Stderr: os.Stderr}, clockshift.Offset)
	if err != nil || code != 0 {
		t.Fatalf("%q: exit %d, %v", args, code, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// date (glibc, through the vDSO unless it is hidden), a shell that runs
// it, and a static Go program (its own vDSO reader) all see the shifted
// clock.
func TestShiftedClock(t *testing.T) {
	want := time.Now().Add(clockshift.Offset * time.Second)
	check := func(name, got string) {
		sec, err := strconv.ParseInt(got, 10, 64)
		if err != nil {
			t.Fatalf("%s printed %q", name, got)
		}
		if d := time.Unix(sec, 0).Sub(want); d < -time.Minute || d > 5*time.Minute {
			t.Errorf("%s: clock reads %v, want about %v", name, time.Unix(sec, 0), want)
		}
	}
	check("date", run(t, "date", "+%s"))
	check("sh -c date", run(t, "sh", "-c", "date +%s"))
	if y := run(t, "date", "+%Y"); y != strconv.Itoa(want.Year()) {
		t.Errorf("date +%%Y = %s, want %d", y, want.Year())
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/now\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport (\"fmt\"; \"time\")\n\nfunc main() { fmt.Println(time.Now().Unix()) }\n"), 0o644)
	bin := filepath.Join(dir, "now")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	check("static Go", run(t, bin))
	// Unshifted, the same program reads the real clock.
	b, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if sec, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); time.Since(time.Unix(sec, 0)) > time.Minute {
		t.Errorf("unshifted Go program reads %v", time.Unix(sec, 0))
	}
}
