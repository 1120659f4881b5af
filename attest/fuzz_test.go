package attest

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/attest/policy"
)

// FuzzSplitDocuments: any attestation file (single envelope, JSON Lines,
// cosign bundle, garbage) splits into documents each of which is either a
// parsed envelope or an error, never both, never neither.
func FuzzSplitDocuments(f *testing.F) {
	for _, s := range []string{
		`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`,
		"{\"a\":1}\n{\"b\":2}\n",
		`{"base64Signature":"eyJwYXlsb2FkVHlwZSI6IngifQ=="}`,
		"\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range SplitDocuments("fuzz", b) {
			if (d.Envelope == nil) == (d.Err == nil) {
				t.Fatalf("document %s: envelope %v, error %v", d.Source, d.Envelope != nil, d.Err)
			}
		}
	})
}

// FuzzParseRebuild: the rebuild result JSON never panics the parser, and
// whatever it accepts makes a valid statement.
func FuzzParseRebuild(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":1,"recipe":{"name":"a","version":"1","digest":"sha256:e1d8e552330911f9f779f85b6f2c00a15e790dcc3fbb3b28f5da1d660a30c5b8"},"source":{"archive":"sha256:e1d8e552330911f9f779f85b6f2c00a15e790dcc3fbb3b28f5da1d660a30c5b8"},"builderId":"https://b","reproveVersion":"v1","commands":[["true"]],"startedOn":"2026-01-01T00:00:00Z","finishedOn":"2026-01-01T00:00:01Z","exitCode":0,"outputs":[{"name":"x","digest":"sha256:e1d8e552330911f9f779f85b6f2c00a15e790dcc3fbb3b28f5da1d660a30c5b8"}]}`))
	f.Add([]byte(`{"schemaVersion":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRebuild(b)
		if err != nil {
			return
		}
		st, err := RebuildStatement(r)
		if err != nil {
			t.Fatalf("accepted rebuild makes no statement: %v", err)
		}
		parsed, err := ParseStatement(st)
		if err != nil {
			t.Fatalf("own statement does not parse: %v", err)
		}
		if _, err := ReadProvenance(parsed); err != nil {
			t.Fatalf("own provenance does not parse: %v", err)
		}
	})
}

// FuzzPolicy: policy files never panic the parser; accepted ones are
// consistent.
func FuzzPolicy(f *testing.F) {
	f.Add([]byte("version: 1\nreviewers:\n  threshold: 1\n  keys:\n    - name: R\n      key: r.pub\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: a.pub\n"))
	f.Add([]byte("version: 1\ndissent: report\nnormalizers: [gzip-header]\nexpires: 2027-01-01T00:00:00Z\n"))
	f.Add([]byte("{version: 1, reviewers: {threshold: 2}}"))
	k := loadTestKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := policy.Parse(b, "fuzz.yaml", func(name string) ([]byte, error) {
			if name == "r.pub" {
				return k.pubs["reviewer1"], nil
			}
			return k.pubs["rebuilderA"], nil
		})
		if err != nil {
			return
		}
		for _, r := range []policy.Role{p.Reviewers, p.Rebuilders} {
			if r.Threshold < 1 || r.Threshold > len(r.Keys) {
				t.Fatalf("accepted threshold %d of %d keys", r.Threshold, len(r.Keys))
			}
		}
	})
}

func TestSplitDocuments(t *testing.T) {
	env := `{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`
	pretty := "{\n  \"payloadType\": \"application/vnd.in-toto+json\",\n  \"payload\": \"e30=\",\n  \"signatures\": [{\"keyid\": \"\", \"sig\": \"AAAA\"}]\n}\n"
	bundle := `{"base64Signature":"` + base64.StdEncoding.EncodeToString([]byte(env)) + `"}`
	tests := []struct {
		name string
		in   string
		want []string // per document: "ok" or the source of an error
	}{
		{"one envelope", env + "\n", []string{"ok f"}},
		{"pretty-printed", pretty, []string{"ok f"}},
		{"broken pretty-printed is one error", strings.Replace(pretty, "}\n", "", 1), []string{"err f"}},
		{"JSON Lines", env + "\n\n" + env + "\n", []string{"ok f:1", "ok f:3"}},
		{"JSON Lines with a broken line", env + "\n{\"payloadType\":\n", []string{"ok f:1", "err f:2"}},
		{"cosign bundle", bundle, []string{"ok f"}},
		{"cosign bundle with bad base64", `{"base64Signature":"%%"}`, []string{"err f"}},
		{"empty", " \n", []string{"err f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, d := range SplitDocuments("f", []byte(tt.in)) {
				if d.Err != nil {
					got = append(got, "err "+d.Source)
				} else {
					got = append(got, "ok "+d.Source)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
