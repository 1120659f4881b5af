package policy

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

func witnessKey(t *testing.T, name string) string {
	t.Helper()
	_, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	cv, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return cv
}

// TestParseLogWitnesses: the log section's witnesses, threshold and maxAge.
func TestParseLogWitnesses(t *testing.T) {
	a := pubPath("rebuilderA")
	_, lkey, _ := note.GenerateKey(rand.Reader, "log.example")
	wa, wb := witnessKey(t, "witness-a.example"), witnessKey(t, "witness-b.example")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.vkey"), []byte(wb+"\n"), 0o644)
	head := "version: 1\nreviewers:\n  required: false\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + a + "\nlog:\n  key: " + lkey + "\n"
	read := func(n string) ([]byte, error) {
		if !filepath.IsAbs(n) {
			n = filepath.Join(dir, n)
		}
		return os.ReadFile(n)
	}
	in := head + "  witnesses:\n    threshold: 2\n    keys:\n      - name: Witness A\n        key: " + wa + "\n      - name: Witness B\n        key: b.vkey\n  maxAge: 168h\n"
	p, err := Parse([]byte(in), "policy.yaml", read)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, w := range p.Log.Witnesses {
		names = append(names, w.Name+" "+w.KeyName())
	}
	if diff := cmp.Diff([]string{"Witness A witness-a.example", "Witness B witness-b.example"}, names); diff != "" {
		t.Errorf("witnesses (-want +got):\n%s", diff)
	}
	if p.Log.Threshold != 2 || p.Log.MaxAge != 168*time.Hour || p.Log.Key != lkey {
		t.Errorf("log %+v", p.Log)
	}

	wit := func(threshold string, keys ...string) string {
		s := head + "  witnesses:\n"
		if threshold != "" {
			s += "    threshold: " + threshold + "\n"
		}
		s += "    keys:\n"
		for _, k := range keys {
			s += k
		}
		return s
	}
	ka := "      - name: A\n        key: " + wa + "\n"
	kb := "      - name: B\n        key: " + wb + "\n"
	tests := []struct{ name, in, want string }{
		{"threshold missing", wit("", ka), "policy.yaml:11:3: log.witnesses.threshold: required: how many distinct witnesses must have cosigned a checkpoint"},
		{"threshold zero", wit("0", ka), "policy.yaml:12:5: log.witnesses.threshold: 0; want at least 1"},
		{"threshold 1.5", wit("1.5", ka), "policy.yaml:12:5: log.witnesses.threshold: wrong type: want an integer written in decimal, got a number (1.5)"},
		{"threshold above the witnesses", wit("3", ka, kb), "policy.yaml:12:5: log.witnesses.threshold: 3 is more than the 2 distinct witnesses listed"},
		{"no witnesses", head + "  witnesses:\n    threshold: 1\n", "policy.yaml:11:3: log.witnesses.keys: required: at least one witness"},
		{"one witness twice", wit("1", ka, "      - name: A2\n        key: "+wa+"\n"), `policy.yaml:17:9: log.witnesses.keys[1].key: witness "A2" has the key of witness "A": a witness counts once`},
		{"name twice", wit("1", ka, "      - name: A\n        key: "+wb+"\n"), `policy.yaml:16:9: log.witnesses.keys[1].name: "A" is used twice`},
		{"not a key", wit("1", "      - name: A\n        key: nope\n"), "policy.yaml:15:9: log.witnesses.keys[0].key: neither a note verifier key (witness key \"nope\": malformed verifier id) nor a readable file"},
		{"log key as a witness key", wit("1", "      - name: A\n        key: "+strings.Replace(wa, "+B", "+Z", 1)+"\n"), "policy.yaml:15:9: log.witnesses.keys[0].key: neither a note verifier key"},
		{"unknown field", wit("1", ka) + "    quorum: 1\n", `policy.yaml:16:5: log.witnesses.quorum: unknown field "quorum" (known here: threshold, keys)`},
		{"maxAge without witnesses", head + "  maxAge: 24h\n", "policy.yaml:11:3: log.maxAge: maxAge needs log.witnesses: the witnesses' cosignatures are what date a checkpoint"},
		{"maxAge not a duration", wit("1", ka) + "  maxAge: a week\n", `policy.yaml:16:3: log.maxAge: "a week" is not a duration such as 168h or 90m`},
		{"maxAge in days", wit("1", ka) + "  maxAge: 7d\n", `policy.yaml:16:3: log.maxAge: "7d" is not a duration such as 168h or 90m`},
		{"maxAge too short", wit("1", ka) + "  maxAge: 30s\n", "policy.yaml:16:3: log.maxAge: 30s is less than 1m0s"},
		{"maxAge a number", wit("1", ka) + "  maxAge: 3600\n", `policy.yaml:16:3: log.maxAge: "3600" is not a duration such as 168h or 90m`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "policy.yaml", read)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error\n  %v\nwant it to start\n  %s", err, tt.want)
			}
		})
	}
}
