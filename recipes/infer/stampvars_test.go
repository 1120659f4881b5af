package infer

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFindStampVars(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{
		"mod/go.mod":                      "module example.com/tool/v2\n\ngo 1.22\n",
		"mod/main.go":                     "package main\n\nvar (\n\tversion = \"dev\"\n\tdate    string\n\tcount   int\n)\n\nfunc main() {}\n",
		"mod/internal/version/version.go": "package version\n\nconst name = \"tool\"\n\nvar commit string\nvar GitCommit, buildTime string = \"\", \"\"\nvar Version = 1\n",
		"mod/internal/version/x_test.go":  "package version\n\nvar gitSHA string\n",
		"mod/testdata/x.go":               "package x\n\nvar commit string\n",
		"mod/other/go.mod":                "module example.com/other\n",
		"mod/other/o.go":                  "package other\n\nvar commit string\n",
		"mod/broken/b.go":                 "package broken\n\nvar commit string = \n",
		"outside/o.go":                    "package outside\n\nvar commit string\n",
	} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := findStampVars(root, "mod", "example.com/tool/v2")
	want := []StampVar{
		{"example.com/tool/v2/internal/version.commit", StampCommit},
		{"example.com/tool/v2/internal/version.GitCommit", StampCommit},
		{"example.com/tool/v2/internal/version.buildTime", StampBuildDate},
		{"main.version", StampVersion},
		{"main.date", StampBuildDate},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findStampVars (-want +got):\n%s", diff)
	}
}
