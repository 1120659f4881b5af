package cli

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// goTool is the go command that builds the golden tests' binaries: the
// one on PATH, else the project's installation (/usr/local/go).
func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := "/usr/local/go/bin/go"
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command: %v", err)
	}
	return p
}

// goldenGoBuild runs `go build args...` in dir, as releases are built:
// CGO off, and nothing of this machine's Go configuration (this machine
// sets GOFLAGS=-buildvcs=false, which would silently drop VCS stamping)
// reaching the build except the caches, so that it takes a second.
func goldenGoBuild(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(goTool(t), append([]string{"build"}, args...)...)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOFLAGS", "GOOS", "GOARCH", "CGO_ENABLED", "GOTOOLCHAIN", "GOPROXY", "GOWORK", "GOENV", "GOEXPERIMENT", "GOAMD64":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local", "GOPROXY=off", "GOWORK=off", "GOENV=off",
		"GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// helloSource writes a Go program printing message into dir.
func helloSource(t *testing.T, dir, module, message string) {
	t.Helper()
	writeFiles(t, dir, map[string]string{
		"go.mod":  "module " + module + "\n\ngo 1.22\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + message + "\") }\n",
	})
}
