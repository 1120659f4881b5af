package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func pubPath(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "testdata", "keys", name+".pub"))
	return p
}

func pem(t *testing.T, name string) string {
	b, err := os.ReadFile(pubPath(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return pre + strings.Join(lines, "\n"+pre)
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "keys"), 0o755)
	b, _ := os.ReadFile(pubPath("reviewer1"))
	os.WriteFile(filepath.Join(dir, "keys", "r1.pub"), b, 0o644)
	y := `version: 1
expires: 2027-06-30T00:00:00Z
reviewers:
  threshold: 1
  keys:
    - name: Example Audits
      key: keys/r1.pub
rebuilders:
  threshold: 2
  keys:
    - name: A
      key: |
` + indent(pem(t, "rebuilderA"), "        ") + `
      expires: 2027-01-01T00:00:00Z
    - name: B
      key: ` + pubPath("rebuilderB") + `
    - name: A again
      key: ` + pubPath("rebuilderA") + `
    - name: C
      key: ` + pubPath("rebuilderC") + `
normalizers: [archive-mtime, gzip-header]
dissent: report
`
	path := filepath.Join(dir, "policy.yaml")
	os.WriteFile(path, []byte(y), 0o644)
	p, err := Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range p.Rebuilders.Keys {
		names = append(names, k.Name)
	}
	if diff := cmp.Diff([]string{"A = A again", "B", "C"}, names); diff != "" {
		t.Errorf("rebuilder keys (-want +got):\n%s", diff)
	}
	if !p.Expires.Equal(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) || p.Dissent != DissentReport || p.Rebuilders.Threshold != 2 {
		t.Errorf("policy %+v", p)
	}
	if !p.Rebuilders.Keys[0].Expires.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("key expiry %v", p.Rebuilders.Keys[0].Expires)
	}
	if diff := cmp.Diff([]string{"archive-mtime", "gzip-header"}, p.Normalizers); diff != "" {
		t.Errorf("normalizers (-want +got):\n%s", diff)
	}
	if ok, bad := p.Allows([]string{"archive-mtime", "authenticode"}); ok || !cmp.Equal(bad, []string{"authenticode"}) {
		t.Errorf("Allows = %v %v", ok, bad)
	}
	if p.Digest == "" || p.Digest.Validate() != nil {
		t.Errorf("policy digest %q", p.Digest)
	}
}

func TestParseRefuses(t *testing.T) {
	r1, a, b := pubPath("reviewer1"), pubPath("rebuilderA"), pubPath("rebuilderB")
	good := func(extra string) string {
		return "version: 1\nreviewers:\n  threshold: 1\n  keys:\n    - name: R\n      key: " + r1 +
			"\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + a + "\n" + extra
	}
	if _, err := Parse([]byte(good("")), "p", os.ReadFile); err != nil {
		t.Fatalf("good policy refused: %v", err)
	}
	tests := []struct{ name, in, want string }{
		{"empty", "", "empty file"},
		{"no version", strings.Replace(good(""), "version: 1\n", "", 1), "version is 0, want 1"},
		{"future version", strings.Replace(good(""), "version: 1", "version: 2", 1), "version is 2"},
		{"unknown field", good("trust_everyone: true\n"), "field trust_everyone not found"},
		{"case variant field", good("Dissent: report\n"), "field Dissent not found"},
		{"duplicate field", good("dissent: fail\ndissent: report\n"), "already defined"},
		{"bad dissent", good("dissent: maybe\n"), `dissent is "maybe"`},
		{"threshold zero", strings.Replace(good(""), "threshold: 1\n  keys:\n    - name: A", "threshold: 0\n  keys:\n    - name: A", 1), "rebuilders: threshold is 0"},
		{"threshold above distinct keys", strings.Replace(good("    - name: A2\n      key: "+a+"\n"), "threshold: 1\n  keys:\n    - name: A", "threshold: 2\n  keys:\n    - name: A", 1),
			"threshold 2 is more than the 1 distinct keys"},
		{"no rebuilders", "version: 1\nreviewers:\n  threshold: 1\n  keys:\n    - name: R\n      key: " + r1 + "\n", "rebuilders: missing"},
		{"key name twice", good("    - name: A\n      key: " + b + "\n"), `rebuilders key "A": name used twice`},
		{"missing key file", good("    - name: B\n      key: /nonexistent/b.pub\n"), `rebuilders key "B": open /nonexistent/b.pub`},
		{"not a key", good("    - name: B\n      key: |\n        -----BEGIN PUBLIC KEY-----\n        AAAA\n        -----END PUBLIC KEY-----\n"), `rebuilders key "B": load public key`},
		{"two documents", good("---\nversion: 1\n"), "more than one YAML document"},
		{"bad expiry", good("expires: someday\n"), "expires"},
		{"normalizer twice", good("normalizers: [gzip-header, gzip-header]\n"), `normalizer "gzip-header" is listed twice`},
		{"unknown normalizer", good("normalizers: [ignore-everything]\n"), `unknown normalizer "ignore-everything" (known: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "policy.yaml", os.ReadFile)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "load policy policy.yaml: ") {
				t.Errorf("error %q does not name the policy", err)
			}
		})
	}
}
