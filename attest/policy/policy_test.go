package policy

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
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
	setThreshold := func(y, role, v string) string {
		return strings.Replace(y, role+":\n  threshold: 1\n", role+":\n  threshold: "+v+"\n", 1)
	}
	known := "(known here: version, expires, reviewers, rebuilders, normalizers, dissent, selfReview, log)"
	tests := []struct{ name, in, want string }{
		{"empty", "", "policy.yaml: required: the file is empty"},
		{"no version", strings.Replace(good(""), "version: 1\n", "", 1), "policy.yaml:1:1: version: required"},
		{"future version", strings.Replace(good(""), "version: 1", "version: 2", 1), "policy.yaml:1:1: version: unsupported version 2 (this reprove reads version 1)"},
		{"fractional version", strings.Replace(good(""), "version: 1", "version: 1.7", 1), "policy.yaml:1:1: version: wrong type: want an integer written in decimal, got a number (1.7)"},
		{"threshold 1.9999", setThreshold(good(""), "rebuilders", "1.9999"), "policy.yaml:8:3: rebuilders.threshold: wrong type: want an integer written in decimal, got a number (1.9999)"},
		{"threshold 1.5", setThreshold(good(""), "rebuilders", "1.5"), "policy.yaml:8:3: rebuilders.threshold: wrong type: want an integer written in decimal, got a number (1.5)"},
		{"threshold 0x1", setThreshold(good(""), "rebuilders", "0x1"), "policy.yaml:8:3: rebuilders.threshold: wrong type: want an integer written in decimal, got a number (0x1)"},
		{"threshold 1e0", setThreshold(good(""), "reviewers", "1e0"), "policy.yaml:3:3: reviewers.threshold: wrong type: want an integer written in decimal, got a number (1e0)"},
		{"threshold as a string", setThreshold(good(""), "reviewers", `"1"`), `policy.yaml:3:3: reviewers.threshold: wrong type: want an integer written in decimal, got "1"`},
		{"threshold missing", strings.Replace(good(""), "rebuilders:\n  threshold: 1\n", "rebuilders:\n", 1), "policy.yaml:7:1: rebuilders.threshold: required: how many distinct keys must agree"},
		{"unknown field", good("trust_everyone: true\n"), `policy.yaml:12:1: trust_everyone: unknown field "trust_everyone" ` + known},
		{"typo in a role", strings.Replace(good(""), "  threshold: 1\n  keys:\n    - name: A", "  threshhold: 1\n  keys:\n    - name: A", 1),
			"policy.yaml:7:1: rebuilders.threshold: required: how many distinct keys must agree\npolicy.yaml:8:3: rebuilders.threshhold: unknown field \"threshhold\" (known here: required, threshold, keys)"},
		{"case variant field", good("Dissent: report\n"), `policy.yaml:12:1: Dissent: unknown field "Dissent" ` + known},
		{"duplicate field", good("dissent: fail\ndissent: report\n"), `policy.yaml:13:1: dissent: duplicate key "dissent" (first at line 12)`},
		{"bad dissent", good("dissent: maybe\n"), `policy.yaml:12:1: dissent: "maybe" is not fail or report`},
		{"threshold zero", setThreshold(good(""), "rebuilders", "0"), "policy.yaml:8:3: rebuilders.threshold: 0; want at least 1"},
		{"threshold above distinct keys", setThreshold(good("    - name: A2\n      key: "+a+"\n"), "rebuilders", "2"),
			"policy.yaml:8:3: rebuilders.threshold: 2 is more than the 1 distinct keys listed (entries naming the same key count once)"},
		{"no rebuilders", "version: 1\nreviewers:\n  threshold: 1\n  keys:\n    - name: R\n      key: " + r1 + "\n", "policy.yaml:1:1: rebuilders: required: a policy must name trusted rebuilders"},
		{"key name twice", good("    - name: A\n      key: " + b + "\n"), `policy.yaml:12:7: rebuilders.keys[1].name: "A" is used twice`},
		{"missing key file", good("    - name: B\n      key: /nonexistent/b.pub\n"), `policy.yaml:13:7: rebuilders.keys[1].key: open /nonexistent/b.pub: no such file or directory`},
		{"not a key", good("    - name: B\n      key: |\n        -----BEGIN PUBLIC KEY-----\n        AAAA\n        -----END PUBLIC KEY-----\n"), `policy.yaml:13:7: rebuilders.keys[1].key: load public key (inline PEM): `},
		{"two documents", good("---\nversion: 1\n"), "policy.yaml:12:1: the file holds one YAML document; a second one starts here"},
		{"bad expiry", good("expires: someday\n"), `policy.yaml:12:1: expires: "someday" is not an RFC 3339 time such as 2027-06-30T00:00:00Z`},
		{"normalizer twice", good("normalizers: [gzip-header, gzip-header]\n"), `policy.yaml:12:28: normalizers[1]: normalizer "gzip-header" is listed twice`},
		{"unknown normalizer", good("normalizers: [ignore-everything]\n"), `policy.yaml:12:15: normalizers[0]: unknown normalizer "ignore-everything" (known: `},
		{"alias", good("x: &a 1\n"), `policy.yaml:12:1: x: unknown field "x"`},
		{"self review", good("    - name: Also R\n      key: " + r1 + "\n"),
			`policy.yaml:13:7: rebuilders.keys[1].key: the key of rebuilder "Also R" is also the key of reviewer "R": a review and a rebuild signed by one key are not independent checks (write selfReview: allow to accept it; verify then says so)`},
		{"bad selfReview", good("selfReview: sometimes\n"), `policy.yaml:12:1: selfReview: "sometimes" is not refuse or allow`},
		{"optional reviews with a threshold", strings.Replace(good(""), "reviewers:\n", "reviewers:\n  required: false\n", 1),
			"policy.yaml:4:3: reviewers.threshold: a threshold applies only when reviews are required (required: true)"},
		{"required on rebuilders", strings.Replace(good(""), "rebuilders:\n", "rebuilders:\n  required: false\n", 1),
			"policy.yaml:8:3: rebuilders.required: only reviews can be made optional"},
		{"required not a boolean", strings.Replace(good(""), "reviewers:\n", "reviewers:\n  required: no\n", 1),
			`policy.yaml:3:3: reviewers.required: wrong type: want true or false, got "no"`},
		{"log without key", good("log: {}\n"), "policy.yaml:12:1: log.key: required: the log's note verifier key (origin+hash+base64) or a file holding it"},
		{"log key not a key", good("log:\n  key: not-a-key\n"), "policy.yaml:13:3: log.key: neither a note verifier key (log key: malformed verifier id) nor a readable file (open not-a-key: no such file or directory)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "policy.yaml", os.ReadFile)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Count(err.Error(), "\n") != strings.Count(tt.want, "\n") {
				t.Fatalf("error\n  %v\nwant it to start\n  %s", err, tt.want)
			}
		})
	}
}

// TestParseOptions: the options beyond keys and thresholds.
func TestParseOptions(t *testing.T) {
	r1, a := pubPath("reviewer1"), pubPath("rebuilderA")
	_, vkey, err := note.GenerateKey(rand.Reader, "log.example")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "log.vkey"), []byte(vkey+"\n"), 0o644)
	rel := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
	tests := []struct {
		name, in                      string
		optional, selfReview, log, ok bool
	}{
		{name: "rebuilder only", in: "version: 1\nreviewers:\n  required: false\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + a + "\n",
			optional: true, ok: true},
		{name: "optional reviews with reviewers listed", in: "version: 1\nreviewers:\n  required: false\n  keys:\n    - name: R\n      key: " + r1 +
			"\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + a + "\n", optional: true, ok: true},
		{name: "self review allowed", in: "version: 1\nselfReview: allow\nreviewers:\n  threshold: 1\n  keys:\n    - name: R\n      key: " + a +
			"\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + a + "\n", selfReview: true, ok: true},
		{name: "log key inline", in: "version: 1\nlog:\n  key: " + vkey + "\nreviewers:\n  required: false\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + a + "\n",
			optional: true, log: true, ok: true},
		{name: "log key in a file", in: "version: 1\nlog:\n  key: log.vkey\nreviewers:\n  required: false\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + a + "\n",
			optional: true, log: true, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.in), "policy.yaml", func(n string) ([]byte, error) {
				if filepath.IsAbs(n) {
					return os.ReadFile(n)
				}
				return rel(n)
			})
			if err != nil {
				t.Fatal(err)
			}
			if p.ReviewsOptional != tt.optional || p.AllowSelfReview != tt.selfReview || (p.Log != nil) != tt.log {
				t.Errorf("optional %v, self review %v, log %v", p.ReviewsOptional, p.AllowSelfReview, p.Log != nil)
			}
			if tt.log && (p.Log.Key != vkey || p.Log.Name() != "log.example") {
				t.Errorf("log key %q (%s)", p.Log.Key, p.Log.Name())
			}
		})
	}
}
