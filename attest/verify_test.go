package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/schemas"
)

var (
	identicalA = rebuilderSay{key: "rebuilderA", verdict: verdict.Identical}
	identicalB = rebuilderSay{key: "rebuilderB", verdict: verdict.Identical}
	identicalC = rebuilderSay{key: "rebuilderC", verdict: verdict.Identical}
	differentC = rebuilderSay{key: "rebuilderC", verdict: verdict.Different}
)

func outcomes(r *Result) []string {
	var out []string
	for _, rb := range r.Rebuilders {
		out = append(out, rb.Name+"="+rb.Outcome.String())
	}
	return out
}

func TestVerifyAccepts(t *testing.T) {
	tests := []struct {
		name         string
		says         []rebuilderSay
		policyExtra  string
		reviewThresh int
		rebuildThr   int
		wantOutcomes []string
		wantSentence string
	}{
		{
			name: "two of three identical", says: []rebuilderSay{identicalA, identicalB}, reviewThresh: 2, rebuildThr: 2,
			wantOutcomes: []string{"A=agrees", "B=agrees"},
			wantSentence: "verified: sha256:%s is hello 1.0, reproduced bit for bit by 2 of 3 trusted rebuilders (A, B), from source https://example.com/hello.git@0123456789abcdef0123456789abcdef01234567 reviewed by reviewer1 on 2026-11-01 and reviewer2 on 2026-11-01",
		},
		{
			name: "dissent reported, not failing", says: []rebuilderSay{identicalA, identicalB, differentC}, policyExtra: "dissent: report\n",
			reviewThresh: 1, rebuildThr: 2,
			wantOutcomes: []string{"A=agrees", "B=agrees", "C=disagrees"},
			wantSentence: "verified: sha256:%s is hello 1.0, reproduced bit for bit by 2 of 3 trusted rebuilders (A, B; C disagrees: different), from source https://example.com/hello.git@0123456789abcdef0123456789abcdef01234567 reviewed by reviewer1 on 2026-11-01 and reviewer2 on 2026-11-01",
		},
		{
			name:         "equivalent under an allowed normalizer",
			says:         []rebuilderSay{identicalA, {key: "rebuilderB", verdict: verdict.Equivalent, normalizers: []string{"archive-mtime"}}},
			policyExtra:  "normalizers: [archive-mtime]\n",
			reviewThresh: 1, rebuildThr: 2,
			wantOutcomes: []string{"A=agrees", "B=agrees"},
			wantSentence: "verified: sha256:%s is hello 1.0, reproduced by 2 of 3 trusted rebuilders (A, B: equivalent under archive-mtime), from source https://example.com/hello.git@0123456789abcdef0123456789abcdef01234567 reviewed by reviewer1 on 2026-11-01 and reviewer2 on 2026-11-01",
		},
	}
	forFormats(t, func(t *testing.T) { testVerifyAccepts(t, tests) })
}

func testVerifyAccepts(t *testing.T, tests []struct {
	name         string
	says         []rebuilderSay
	policyExtra  string
	reviewThresh int
	rebuildThr   int
	wantOutcomes []string
	wantSentence string
}) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.says...)
			pol := mustPolicy(t, f.policyYAML(tt.reviewThresh, tt.rebuildThr, tt.policyExtra))
			res := f.evaluate(t, pol, shippedBytes, f.docs())
			if !res.Verified {
				t.Fatalf("not verified: %s", res.Text())
			}
			if diff := cmp.Diff(tt.wantOutcomes, outcomes(res)); diff != "" {
				t.Errorf("rebuilders (-want +got):\n%s", diff)
			}
			want := fmt.Sprintf(tt.wantSentence, res.Digest.Encoded())
			if diff := cmp.Diff(want, res.Sentence()); diff != "" {
				t.Errorf("sentence (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerifyThroughFiles runs Verify end to end on files: attestations in a
// directory and as one JSON Lines bundle.
func TestVerifyThroughFiles(t *testing.T) {
	f := newFixture(t, identicalA, identicalB)
	pol := mustPolicy(t, f.policyYAML(1, 2, ""))
	dir := filepath.Join(f.dir, "atts")
	os.Mkdir(dir, 0o755)
	var bundle bytes.Buffer
	for _, n := range f.order {
		os.WriteFile(filepath.Join(dir, n+".intoto.json"), f.envs[n], 0o644)
		bundle.Write(f.envs[n])
		bundle.WriteByte('\n')
	}
	os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not an attestation"), 0o644)
	bundlePath := filepath.Join(f.dir, "hello.intoto.jsonl")
	os.WriteFile(bundlePath, bundle.Bytes(), 0o644)
	var steps []string
	for _, paths := range [][]string{{dir}, {bundlePath}} {
		res, err := verifyFiles(context.Background(), f.file, paths, pol, VerifyOptions{
			Now: func() time.Time { return testNow }, Progress: func(s string) { steps = append(steps, s) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Verified || res.Attestations != 6 {
			t.Errorf("%v: verified=%v attestations=%d\n%s", paths, res.Verified, res.Attestations, res.Text())
		}
	}
	if len(steps) == 0 {
		t.Error("no progress reported")
	}
	if _, err := verifyFiles(context.Background(), filepath.Join(f.dir, "missing"), []string{dir}, pol, VerifyOptions{}); err == nil {
		t.Error("a missing file is an error, not a result")
	}
}

// refused asserts a result is "not verified" with a reason containing want.
func refused(t *testing.T, res *Result, want string) {
	t.Helper()
	if res.Verified {
		t.Fatalf("verified, want refused (%q)\n%s", want, res.Text())
	}
	if !strings.HasPrefix(res.Sentence(), "not verified: ") {
		t.Errorf("sentence %q does not start with \"not verified: \"", res.Sentence())
	}
	for _, r := range res.Reasons {
		if strings.Contains(r, want) {
			return
		}
	}
	t.Errorf("no reason contains %q; reasons:\n  %s", want, strings.Join(res.Reasons, "\n  "))
}

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	base := func(t *testing.T) *fixture { return newFixture(t, identicalA, identicalB) }
	resign := func(t *testing.T, f *fixture, name, key string, edit func(m map[string]any)) {
		t.Helper()
		e, err := envelope.Parse(f.envs[name])
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		p, _ := json.Marshal(m)
		env, err := envelope.Sign(ctx, p, f.k.signers[key])
		if err != nil {
			t.Fatal(err)
		}
		f.envs[name] = env
	}
	tests := []struct {
		name   string
		policy func(f *fixture) string
		mutate func(t *testing.T, f *fixture)
		file   []byte
		want   string
	}{
		{name: "file bytes altered", file: append([]byte{'X'}, shippedBytes[1:]...), want: "no verification summary"},
		{name: "file truncated", file: shippedBytes[:10], want: "no verification summary"},
		{name: "zero attestations", mutate: func(t *testing.T, f *fixture) { f.order = nil }, want: "no attestations were given"},
		{name: "one rebuilder short of the threshold", mutate: func(t *testing.T, f *fixture) { f.drop("summary-rebuilderB") },
			want: "reproduced by 1 of 3 trusted rebuilders; the policy needs 2"},
		{name: "dissent fails by default", mutate: func(t *testing.T, f *fixture) { f.addSay(t, differentC) },
			want: "trusted rebuilder C disagrees: different"},
		{name: "review threshold", policy: func(f *fixture) string { return f.policyYAML(2, 2, "") },
			mutate: func(t *testing.T, f *fixture) { f.drop("review-reviewer2"); f.resummarize(t) },
			want:   "the source was approved by 1 of 2 trusted reviewers; the policy needs 2"},
		{name: "review missing closes no chain", mutate: func(t *testing.T, f *fixture) { f.drop("review-reviewer1") },
			want: "its review attestation sha256:"},
		{name: "rebuild missing closes no chain", mutate: func(t *testing.T, f *fixture) { f.drop("rebuild-rebuilderA") },
			want: "its rebuild attestation sha256:"},
		{name: "rebuild signed by another rebuilder", mutate: func(t *testing.T, f *fixture) {
			f.envs["rebuild-rebuilderA"] = f.signedBy(t, "rebuild-rebuilderA", "rebuilderB")
		}, want: "not signed by the same rebuilder key"},
		{name: "review with findings", mutate: func(t *testing.T, f *fixture) {
			f.replaceReview(t, "reviewer1", func(p *ReviewPredicate) { p.Verdict = Findings })
		}, want: "reported findings"},
		{name: "unreferenced review with findings", mutate: func(t *testing.T, f *fixture) {
			p := testReview("reviewer2")
			p.Verdict = Findings
			p.Notes = "backdoor in cmd/hello"
			st, err := ReviewStatement(p)
			if err != nil {
				t.Fatal(err)
			}
			env, _ := envelope.Sign(context.Background(), st, f.k.signers["reviewer2"])
			f.add("review-findings", env)
		}, want: "trusted reviewer reviewer2 (reviewer2) reported findings in https://example.com/hello.git@0123456789abcdef0123456789abcdef01234567 (review-findings)"},
		{name: "review of another commit", mutate: func(t *testing.T, f *fixture) {
			f.replaceReview(t, "reviewer1", func(p *ReviewPredicate) {
				p.Source.GitCommit = "1111111111111111111111111111111111111111"
				p.Source.Tree = digest.Digest("sha256:" + strings.Repeat("1", 64))
			})
		}, want: "is not the source that was rebuilt"},
		{name: "review by sha1 commit only", mutate: func(t *testing.T, f *fixture) {
			f.replaceReview(t, "reviewer1", func(p *ReviewPredicate) { p.Source.Tree = ""; p.Source.Archive = "" })
		}, want: "no sha256-class digest"},
		{name: "unknown field in a signed statement", mutate: func(t *testing.T, f *fixture) {
			resign(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) { m["extra"] = true })
		}, want: `unknown field "extra"`},
		{name: "unknown predicate field", mutate: func(t *testing.T, f *fixture) {
			resign(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) { m["predicate"].(map[string]any)["comment"] = "x" })
		}, want: `unknown field "comment"`},
		{name: "case-variant predicate key", mutate: func(t *testing.T, f *fixture) {
			resign(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) { m["predicate"].(map[string]any)["Verdict"] = "identical" })
		}, want: `differ only in case`},
		{name: "sha1-only subject", mutate: func(t *testing.T, f *fixture) {
			resign(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				m["subject"] = []any{map[string]any{"name": "hello", "digest": map[string]any{"sha1": strings.Repeat("a", 40)}}}
			})
		}, want: "no sha256-class digest"},
		{name: "md5-only subject", mutate: func(t *testing.T, f *fixture) {
			resign(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				m["subject"] = []any{map[string]any{"name": "hello", "digest": map[string]any{"md5": strings.Repeat("a", 32)}}}
			})
		}, want: "no sha256-class digest"},
		{name: "summary claims identical over another rebuilt digest", mutate: func(t *testing.T, f *fixture) {
			resign(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				m["predicate"].(map[string]any)["rebuilt"].(map[string]any)["digest"] = map[string]any{"sha256": strings.Repeat("b", 64)}
			})
		}, want: "says identical, but the rebuilt digest"},
		{name: "summary post-dated", mutate: func(t *testing.T, f *fixture) {
			resign(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				m["predicate"].(map[string]any)["timeVerified"] = "2030-01-01T00:00:00Z"
			})
		}, want: "dated in the future"},
		{name: "summary dated year 1", mutate: func(t *testing.T, f *fixture) {
			resign(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				m["predicate"].(map[string]any)["timeVerified"] = "0001-06-01T00:00:00Z"
			})
		}, want: "dated before 2023-01-01 (0001-06-01T00:00:00Z)"},
		{name: "review dated 1970", mutate: func(t *testing.T, f *fixture) {
			f.replaceReview(t, "reviewer1", func(p *ReviewPredicate) { p.ReviewedAt = time.Unix(0, 0) })
		}, want: "dated before 2023-01-01 (1970-01-01T00:00:00Z)"},
		{name: "parse error in one attestation", mutate: func(t *testing.T, f *fixture) {
			f.add("garbage", []byte(`{"payloadType": "application/vnd.in-toto+json", "payload": "e30=", "signatures": [`))
		}, want: "attestation garbage"},
		{name: "duplicate key in envelope", mutate: func(t *testing.T, f *fixture) {
			env := f.envs["summary-rebuilderA"]
			f.envs["summary-rebuilderA"] = append([]byte(`{"payloadType":"x",`), env[1:]...)
		}, want: `duplicate key "payloadType"`},
		{name: "policy expired", policy: func(f *fixture) string { return f.policyYAML(1, 2, "expires: 2026-11-19T00:00:00Z\n") },
			want: "the policy expired on 2026-11-19T00:00:00Z"},
		{name: "rebuilder key expired", policy: func(f *fixture) string {
			return strings.Replace(f.policyYAML(1, 2, ""), "    - name: A\n", "    - name: A\n      expires: 2026-11-15T00:00:00Z\n", 1)
		}, want: "the signature by A has expired"},
		{name: "equivalent under a normalizer the policy does not allow", mutate: func(t *testing.T, f *fixture) {
			f.drop("summary-rebuilderB")
			f.addSay(t, rebuilderSay{key: "rebuilderC", verdict: verdict.Equivalent, normalizers: []string{"archive-mtime"}})
		}, want: "reproduced by 1 of 3"},
		{name: "threshold raised in the policy", policy: func(f *fixture) string { return f.policyYAML(1, 3, "") },
			want: "reproduced by 2 of 3 trusted rebuilders; the policy needs 3"},
		{name: "rebuilder keys swapped for strangers", policy: func(f *fixture) string {
			y := f.policyYAML(1, 2, "")
			y = strings.Replace(y, f.k.pubPaths["rebuilderA"], f.k.pubPaths["stranger"], 1)
			return y
		}, want: "reproduced by 1 of 3"},
		{name: "reviewer key swapped for a stranger", policy: func(f *fixture) string {
			y := f.policyYAML(1, 2, "")
			y = strings.Replace(y, f.k.pubPaths["reviewer1"], f.k.pubPaths["stranger"], 1)
			return y
		}, want: "signed by no trusted reviewer"},
		{name: "summary signed by an untrusted key", mutate: func(t *testing.T, f *fixture) {
			f.envs["summary-rebuilderA"] = f.signedBy(t, "summary-rebuilderA", "stranger")
		}, want: "reproduced by 1 of 3"},
		{name: "same key twice counts once", mutate: func(t *testing.T, f *fixture) {
			f.drop("summary-rebuilderB")
			// A's summary signed twice by A, once with a key id claiming B.
			e, _ := envelope.Parse(f.envs["summary-rebuilderA"])
			env, _ := addSignature(ctx, e, f.k.signers["rebuilderA"])
			var w map[string]any
			json.Unmarshal(env, &w)
			w["signatures"].([]any)[1].(map[string]any)["keyid"] = "rebuilderB"
			f.envs["summary-rebuilderA"], _ = json.Marshal(w)
			// And the same envelope presented twice.
			f.add("summary-rebuilderA-copy", f.envs["summary-rebuilderA"])
		}, want: "reproduced by 1 of 3"},
		{name: "replay of attestations made for another file", mutate: func(t *testing.T, f *fixture) {
			other := newFixtureFor(t, []byte("another program\n"), identicalA, identicalB)
			f.order, f.envs = other.order, other.envs
		}, want: "no verification summary for sha256:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base(t)
			if tt.mutate != nil {
				tt.mutate(t, f)
			}
			y := f.policyYAML(1, 2, "")
			if tt.policy != nil {
				y = tt.policy(f)
			}
			file := shippedBytes
			if tt.file != nil {
				file = tt.file
			}
			refused(t, f.evaluate(t, mustPolicy(t, y), file, f.docs()), tt.want)
		})
	}
}

// TestTamperEveryField alters, one at a time, every value in every signed
// statement (keeping the original signatures), every signature, and the
// payload type; each alteration must be refused. Key ids are unsigned hints:
// altering one must change nothing.
func TestTamperEveryField(t *testing.T) { forFormats(t, testTamperEveryField) }

func testTamperEveryField(t *testing.T) {
	f := newFixture(t, identicalA, identicalB)
	pol := mustPolicy(t, f.policyYAML(2, 2, ""))
	if res := f.evaluate(t, pol, shippedBytes, f.docs()); !res.Verified {
		t.Fatalf("untampered fixture not verified:\n%s", res.Text())
	}
	count := 0
	for _, name := range append([]string(nil), f.order...) {
		orig := f.envs[name]
		var w map[string]any
		if err := json.Unmarshal(orig, &w); err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(w["payload"].(string))
		var stmt any
		if err := json.Unmarshal(raw, &stmt); err != nil {
			t.Fatal(err)
		}
		// Every leaf of the statement.
		for _, path := range leaves(stmt, "") {
			tampered := alter(stmt, path)
			p, _ := json.Marshal(tampered)
			w2 := cloneMap(w)
			w2["payload"] = base64.StdEncoding.EncodeToString(p)
			env, _ := json.Marshal(w2)
			f.envs[name] = env
			res := f.evaluate(t, pol, shippedBytes, f.docs())
			if res.Verified {
				t.Errorf("%s: altering %s was not refused", name, path)
			}
			count++
		}
		// Each signature, and the payload type.
		for _, field := range []string{"sig", "payloadType"} {
			w2 := cloneMap(w)
			if field == "sig" {
				sigs := w2["signatures"].([]any)
				s := sigs[0].(map[string]any)
				b, _ := base64.StdEncoding.DecodeString(s["sig"].(string))
				b[len(b)/2] ^= 1
				s2 := map[string]any{"keyid": s["keyid"], "sig": base64.StdEncoding.EncodeToString(b)}
				w2["signatures"] = []any{s2}
			} else {
				w2["payloadType"] = "application/vnd.in-toto+jsonx"
			}
			env, _ := json.Marshal(w2)
			f.envs[name] = env
			if res := f.evaluate(t, pol, shippedBytes, f.docs()); res.Verified {
				t.Errorf("%s: altering %s was not refused", name, field)
			}
			count++
		}
		// The key id is a hint: altering it changes nothing.
		w2 := cloneMap(w)
		w2["signatures"] = []any{map[string]any{"keyid": "someone-else", "sig": w["signatures"].([]any)[0].(map[string]any)["sig"]}}
		env, _ := json.Marshal(w2)
		f.envs[name] = env
		if res := f.evaluate(t, pol, shippedBytes, f.docs()); !res.Verified {
			t.Errorf("%s: altering the key id (an unsigned hint) refused: %s", name, res.Text())
		}
		f.envs[name] = orig
	}
	t.Logf("%d alterations refused", count)
	if count < 100 {
		t.Errorf("only %d alterations tried; the fixture should have more fields", count)
	}
}

// leaves lists the JSON paths of every scalar in v.
func leaves(v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		ks := make([]string, 0, len(x))
		for k := range x {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			out = append(out, leaves(x[k], path+"/"+k)...)
		}
	case []any:
		for i, e := range x {
			out = append(out, leaves(e, fmt.Sprintf("%s/%d", path, i))...)
		}
	default:
		out = append(out, path)
	}
	return out
}

// alter returns a deep copy of v with the scalar at path changed.
func alter(v any, path string) any {
	b, _ := json.Marshal(v)
	var c any
	json.Unmarshal(b, &c)
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var set func(node any, i int) any
	set = func(node any, i int) any {
		if i == len(parts) {
			switch s := node.(type) {
			case string:
				if s == "" {
					return "x"
				}
				r := []byte(s)
				r[len(r)-1] ^= 1
				return string(r)
			case float64:
				return s + 1
			case bool:
				return !s
			}
			return "altered"
		}
		switch x := node.(type) {
		case map[string]any:
			x[parts[i]] = set(x[parts[i]], i+1)
			return x
		case []any:
			var idx int
			fmt.Sscan(parts[i], &idx)
			x[idx] = set(x[idx], i+1)
			return x
		}
		return node
	}
	return set(c, 0)
}

func cloneMap(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var c map[string]any
	json.Unmarshal(b, &c)
	return c
}

func (f *fixture) drop(name string) {
	for i, n := range f.order {
		if n == name {
			f.order = append(f.order[:i], f.order[i+1:]...)
			return
		}
	}
	panic("no attestation " + name)
}

// signedBy returns the named envelope's payload signed by key instead.
func (f *fixture) signedBy(t *testing.T, name, key string) []byte {
	t.Helper()
	e, err := envelope.Parse(f.envs[name])
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Sign(context.Background(), e.Payload, f.k.signers[key])
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// addSay adds another rebuilder's rebuild and summary to the fixture.
func (f *fixture) addSay(t *testing.T, s rebuilderSay) {
	t.Helper()
	g := newFixture(t, s)
	for _, n := range g.order {
		if strings.HasPrefix(n, "rebuild-") || strings.HasPrefix(n, "summary-") {
			f.add(n, g.envs[n])
		}
	}
}

// replaceReview re-signs reviewer's review with an edited predicate and
// re-makes every summary so the chain points at the new review.
func (f *fixture) replaceReview(t *testing.T, reviewer string, edit func(*ReviewPredicate)) {
	t.Helper()
	p := testReview(reviewer)
	edit(p)
	st, err := reviewStatementUnchecked(p)
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Sign(context.Background(), st, f.k.signers[reviewer])
	if err != nil {
		t.Fatal(err)
	}
	f.envs["review-"+reviewer] = env
	f.resummarize(t)
}

// resummarize re-signs every summary so it references the current reviews.
func (f *fixture) resummarize(t *testing.T) {
	t.Helper()
	var refs []AttestationRef
	for _, n := range f.order {
		if strings.HasPrefix(n, "review-") {
			e, _ := envelope.Parse(f.envs[n])
			refs = append(refs, AttestationRef{PredicateType: ReviewPredicateType, Digest: setOf(e.PayloadDigest())})
		}
	}
	for _, n := range f.order {
		if !strings.HasPrefix(n, "summary-") {
			continue
		}
		e, _ := envelope.Parse(f.envs[n])
		var m map[string]any
		json.Unmarshal(e.Payload, &m)
		var rs []any
		for _, r := range refs {
			rs = append(rs, map[string]any{"predicateType": r.PredicateType, "digest": map[string]any{"sha256": r.Digest["sha256"]}})
		}
		m["predicate"].(map[string]any)["reviews"] = rs
		p, _ := json.Marshal(m)
		env, err := envelope.Sign(context.Background(), p, f.k.signers[strings.TrimPrefix(n, "summary-")])
		if err != nil {
			t.Fatal(err)
		}
		f.envs[n] = env
	}
}

// reviewStatementUnchecked builds a review statement without validation, to
// make attestations a careless or hostile signer could make.
func reviewStatementUnchecked(p *ReviewPredicate) ([]byte, error) {
	pred, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	subj := map[string]any{"name": p.Source.URI, "digest": p.Source.DigestSet()}
	return json.Marshal(map[string]any{
		"_type": StatementV1, "subject": []any{subj}, "predicateType": ReviewPredicateType, "predicate": json.RawMessage(pred),
	})
}

func newFixtureFor(t *testing.T, file []byte, says ...rebuilderSay) *fixture {
	saved := shippedBytes
	shippedBytes = file
	defer func() { shippedBytes = saved }()
	return newFixture(t, says...)
}

// BenchmarkEvaluate measures a whole verification of three rebuilders and
// two reviewers (8 envelopes, each checked against 5 keys with cosign).
func BenchmarkEvaluate(b *testing.B) {
	f := newFixture(b, identicalA, identicalB, identicalC)
	pol := mustPolicy(b, f.policyYAML(2, 3, ""))
	docs := f.docs()
	ds := DigestSet{"sha256": digest.FromBytes(shippedBytes).Encoded()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := evaluateDocs(context.Background(), ds, docs, pol)
		if err != nil || !res.Verified {
			b.Fatalf("not verified: %v %v", err, res)
		}
	}
}

func TestEvaluateRefusesBadPolicy(t *testing.T) {
	f := newFixture(t, identicalA, identicalB)
	pol := mustPolicy(t, f.policyYAML(1, 2, ""))
	ds := DigestSet{"sha256": digest.FromBytes(shippedBytes).Encoded()}
	for _, edit := range []func(){
		func() { pol.Rebuilders.Threshold = 0 },
		func() { pol.Reviewers.Threshold = 0 },
		func() { pol.Rebuilders.Threshold = 4 },
	} {
		p := *pol // restored after each edit
		edit()
		if _, err := evaluateDocs(context.Background(), ds, f.docs(), pol); err == nil {
			t.Error("a policy with a bad threshold was used")
		}
		pol = &p
	}
	if _, err := evaluateDocs(context.Background(), ds, f.docs(), nil); err == nil {
		t.Error("a nil policy was used")
	}
}

func TestUnreferencedApprovalIsNoted(t *testing.T) {
	f := newFixture(t, identicalA, identicalB)
	p := testReview("reviewer2")
	p.Notes = "a later, unreferenced review"
	st, err := ReviewStatement(p)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := envelope.Sign(context.Background(), st, f.k.signers["reviewer2"])
	f.add("review-later", env)
	res := f.evaluate(t, mustPolicy(t, f.policyYAML(2, 2, "")), shippedBytes, f.docs())
	if !res.Verified {
		t.Fatalf("not verified:\n%s", res.Text())
	}
	want := []string{"review review-later by reviewer2 is not referenced by any verification summary; not counted"}
	if diff := cmp.Diff(want, res.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
}

func TestExpect(t *testing.T) {
	tests := []struct {
		name, version string
		want          bool
	}{
		{"", "", true}, {"hello", "", true}, {"hello", "1.0", true}, {"", "1.0", true},
		{"hello", "0.9", false}, {"other", "1.0", false},
	}
	f := newFixture(t, identicalA, identicalB)
	pol := mustPolicy(t, f.policyYAML(1, 2, ""))
	for _, tt := range tests {
		res := f.evaluate(t, pol, shippedBytes, f.docs())
		res.Expect(tt.name, tt.version)
		if res.Verified != tt.want {
			t.Errorf("Expect(%q, %q): verified %v, want %v (%v)", tt.name, tt.version, res.Verified, tt.want, res.Reasons)
		}
	}
}

// TestRebuildDatedBeforeBound: a rebuild whose provenance says it ran before
// any attestation in these formats existed breaks the chain.
func TestRebuildDatedBeforeBound(t *testing.T) {
	saved := rebuildStart
	rebuildStart = time.Date(2022, 12, 31, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, identicalA)
	rebuildStart = saved
	res := f.evaluate(t, mustPolicy(t, f.policyYAML(1, 1, "")), shippedBytes, f.docs())
	refused(t, res, "dated before 2023-01-01 (2022-12-31T")
}

// TestSelfReview: one key as reviewer and rebuilder is refused unless the
// policy allows it, and then the verdict says so.
func TestSelfReview(t *testing.T) {
	f := newFixture(t, identicalA)
	// rebuilderA co-signs reviewer1's review.
	e, _ := envelope.Parse(f.envs["review-reviewer1"])
	env, err := addSignature(context.Background(), e, f.k.signers["rebuilderA"])
	if err != nil {
		t.Fatal(err)
	}
	f.envs["review-reviewer1"] = env
	f.drop("review-reviewer2")
	f.resummarize(t)
	y := func(extra string) string {
		return extra + "version: 1\nreviewers:\n  threshold: 2\n  keys:\n    - name: reviewer1\n      key: " + f.k.pubPaths["reviewer1"] +
			"\n    - name: A as reviewer\n      key: " + f.k.pubPaths["rebuilderA"] +
			"\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + f.k.pubPaths["rebuilderA"] + "\n"
	}
	if _, err := policyParse(y("")); err == nil || !strings.Contains(err.Error(), "not independent checks") {
		t.Fatalf("policy with one key in both roles: %v", err)
	}
	pol := mustPolicy(t, y("selfReview: allow\n"))
	res := f.evaluate(t, pol, shippedBytes, f.docs())
	if !res.Verified {
		t.Fatalf("not verified:\n%s", res.Text())
	}
	want := "verified: " + res.Digest.String() + " is hello 1.0, reproduced bit for bit by 1 of 1 trusted rebuilder (A), from source " +
		"https://example.com/hello.git@0123456789abcdef0123456789abcdef01234567 reviewed by " +
		"A as reviewer on 2026-11-01 (with the key of rebuilder A: one key played both roles) and reviewer1 on 2026-11-01"
	if diff := cmp.Diff(want, res.Sentence()); diff != "" {
		t.Errorf("sentence (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"one key played both roles: reviewer A as reviewer is rebuilder A"}, res.Notes); diff != "" {
		t.Errorf("notes (-want +got):\n%s", diff)
	}
	// A Policy built in code with one key in both roles, without the
	// permission, is refused by the evaluator itself.
	pol.AllowSelfReview = false
	ds := DigestSet{"sha256": digest.FromBytes(shippedBytes).Encoded()}
	if _, err := evaluateDocs(context.Background(), ds, f.docs(), pol); err == nil {
		t.Error("a self-review policy without selfReview: allow was used")
	}
}

// TestVerifyRefusesVSA: tampering specific to the VSA and its comparison,
// each statement re-signed by a trusted key so that only the chain's logic
// can refuse it.
func TestVerifyRefusesVSA(t *testing.T) {
	fixtureVSA = true
	defer func() { fixtureVSA = false }()
	ctx := context.Background()
	edit := func(t *testing.T, f *fixture, name, key string, change func(m map[string]any)) digest.Digest {
		t.Helper()
		e, err := envelope.Parse(f.envs[name])
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(e.Payload, &m)
		change(m)
		p, _ := json.Marshal(m)
		env, err := envelope.Sign(ctx, p, f.k.signers[key])
		if err != nil {
			t.Fatal(err)
		}
		f.envs[name] = env
		return digest.FromBytes(p)
	}
	pred := func(m map[string]any) map[string]any { return m["predicate"].(map[string]any) }
	// recite points A's VSA at a new comparison digest.
	recite := func(t *testing.T, f *fixture, old, new digest.Digest, change func(m map[string]any)) {
		edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
			for _, in := range pred(m)["inputAttestations"].([]any) {
				d := in.(map[string]any)["digest"].(map[string]any)
				if d["sha256"] == old.Encoded() {
					d["sha256"] = new.Encoded()
				}
			}
			if change != nil {
				change(m)
			}
		})
	}
	payloadOf := func(f *fixture, name string) digest.Digest {
		e, _ := envelope.Parse(f.envs[name])
		return e.PayloadDigest()
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, f *fixture)
		want   string
	}{
		{"comparison missing", func(t *testing.T, f *fixture) { f.drop("comparison-rebuilderA") }, "its input attestation sha256:"},
		{"comparison signed by another rebuilder", func(t *testing.T, f *fixture) {
			f.envs["comparison-rebuilderA"] = f.signedBy(t, "comparison-rebuilderA", "rebuilderB")
		}, "is not signed by the same rebuilder key"},
		{"comparison signed by a stranger", func(t *testing.T, f *fixture) {
			f.envs["comparison-rebuilderA"] = f.signedBy(t, "comparison-rebuilderA", "stranger")
		}, "is signed by no trusted rebuilder"},
		{"result FAILED over an identical comparison", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				pred(m)["verificationResult"] = "FAILED"
				pred(m)["verifiedLevels"] = []any{"FAILED"}
			})
		}, "does not follow from the comparison's verdict identical"},
		{"a higher SLSA build level than a rebuild shows", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				pred(m)["verifiedLevels"] = []any{"REPROVE_BIT_IDENTICAL", "REPROVE_REPRODUCED", "REPROVE_SOURCE_REVIEWED", "SLSA_BUILD_LEVEL_2"}
			})
		}, "does not follow from the comparison's verdict identical"},
		{"SLSA_BUILD_REPRODUCED claimed by one rebuilder", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				pred(m)["verifiedLevels"] = append(pred(m)["verifiedLevels"].([]any), "SLSA_BUILD_REPRODUCED")
			})
		}, "does not follow from the comparison's verdict identical"},
		{"a reviewed claim without reviews", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				pred(m)["inputAttestations"] = pred(m)["inputAttestations"].([]any)[:2]
			})
		}, "does not follow from the comparison's verdict"},
		{"another policy", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) { pred(m)["policy"] = map[string]any{"uri": "https://example.com/lenient"} })
		}, `policy.uri is "https://example.com/lenient"`},
		{"unknown VSA field", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) { pred(m)["comment"] = "x" })
		}, `unknown field "comment"`},
		{"proto spelling in the VSA", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				pred(m)["time_verified"] = pred(m)["timeVerified"]
				delete(pred(m), "timeVerified")
			})
		}, `unknown field "time_verified"`},
		{"input listed twice", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				ins := pred(m)["inputAttestations"].([]any)
				pred(m)["inputAttestations"] = append(ins, ins[0])
			})
		}, "is listed twice"},
		{"a summary cited as an input", func(t *testing.T, f *fixture) {
			b := payloadOf(f, "summary-rebuilderB")
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				ins := pred(m)["inputAttestations"].([]any)
				pred(m)["inputAttestations"] = append(ins, map[string]any{"digest": map[string]any{"sha256": b.Encoded()}})
			})
		}, "not a rebuild, comparison or review"},
		{"two rebuilds cited", func(t *testing.T, f *fixture) {
			b := payloadOf(f, "rebuild-rebuilderB")
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
				ins := pred(m)["inputAttestations"].([]any)
				pred(m)["inputAttestations"] = append(ins, map[string]any{"digest": map[string]any{"sha256": b.Encoded()}})
			})
		}, "cites 2 rebuild attestations"},
		{"comparison about another file", func(t *testing.T, f *fixture) {
			old := payloadOf(f, "comparison-rebuilderA")
			d := edit(t, f, "comparison-rebuilderA", "rebuilderA", func(m map[string]any) {
				m["subject"] = []any{map[string]any{"name": "x", "digest": map[string]any{"sha256": strings.Repeat("c", 64)}}}
			})
			recite(t, f, old, d, nil)
		}, "is about another file"},
		{"comparison of another rebuild", func(t *testing.T, f *fixture) {
			old := payloadOf(f, "comparison-rebuilderA")
			b := payloadOf(f, "rebuild-rebuilderB")
			d := edit(t, f, "comparison-rebuilderA", "rebuilderA", func(m map[string]any) {
				pred(m)["rebuild"].(map[string]any)["digest"] = map[string]any{"sha256": b.Encoded()}
			})
			recite(t, f, old, d, nil)
		}, "is of rebuild sha256:"},
		{"comparison says identical over another digest", func(t *testing.T, f *fixture) {
			old := payloadOf(f, "comparison-rebuilderA")
			d := edit(t, f, "comparison-rebuilderA", "rebuilderA", func(m map[string]any) {
				pred(m)["rebuilt"].(map[string]any)["digest"] = map[string]any{"sha256": strings.Repeat("b", 64)}
			})
			recite(t, f, old, d, nil)
		}, "says identical, but the rebuilt digest"},
		{"comparison with an unknown field", func(t *testing.T, f *fixture) {
			old := payloadOf(f, "comparison-rebuilderA")
			d := edit(t, f, "comparison-rebuilderA", "rebuilderA", func(m map[string]any) { pred(m)["extra"] = 1 })
			recite(t, f, old, d, nil)
		}, `unknown field "extra"`},
		{"VSA dated year 1", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) { pred(m)["timeVerified"] = "0001-06-01T00:00:00Z" })
		}, "dated before 2023-01-01"},
		{"VSA post-dated", func(t *testing.T, f *fixture) {
			edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) { pred(m)["timeVerified"] = "2030-01-01T00:00:00Z" })
		}, "dated in the future"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, identicalA, identicalB)
			tt.mutate(t, f)
			refused(t, f.evaluate(t, mustPolicy(t, f.policyYAML(1, 2, "")), shippedBytes, f.docs()), tt.want)
		})
	}
	// A VSA signed before reprove stated SLSA_BUILD_LEVEL_1 (its own
	// properties only) still verifies.
	t.Run("levels written before SLSA_BUILD_LEVEL_1", func(t *testing.T) {
		f := newFixture(t, identicalA, identicalB)
		edit(t, f, "summary-rebuilderA", "rebuilderA", func(m map[string]any) {
			pred(m)["verifiedLevels"] = []any{"REPROVE_BIT_IDENTICAL", "REPROVE_REPRODUCED", "REPROVE_SOURCE_REVIEWED"}
		})
		if res := f.evaluate(t, mustPolicy(t, f.policyYAML(1, 2, "")), shippedBytes, f.docs()); !res.Verified {
			t.Fatalf("not verified:\n%s", res.Text())
		}
	})
}

// TestVerifyMixedFormats: one rebuilder publishes the old summary, another
// a VSA; both count.
func TestVerifyMixedFormats(t *testing.T) {
	f := newFixture(t, identicalA)
	fixtureVSA = true
	g := newFixture(t, identicalB)
	fixtureVSA = false
	for _, n := range g.order {
		if !strings.HasPrefix(n, "review-") {
			f.add(n, g.envs[n])
		}
	}
	res := f.evaluate(t, mustPolicy(t, f.policyYAML(2, 2, "")), shippedBytes, f.docs())
	if !res.Verified {
		t.Fatalf("not verified:\n%s", res.Text())
	}
}

// TestResultSchema: real results, verified and not, with and without every
// optional part, match schemas/verify-result.schema.json.
func TestResultSchema(t *testing.T) {
	forFormats(t, func(t *testing.T) {
		f := newFixture(t, identicalA, rebuilderSay{key: "rebuilderB", verdict: verdict.Equivalent, normalizers: []string{"archive-mtime"}}, differentC)
		for _, y := range []string{
			f.policyYAML(1, 2, "normalizers: [archive-mtime]\ndissent: report\n"),
			f.policyYAML(2, 3, ""),
			"version: 1\nreviewers:\n  required: false\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: " + f.k.pubPaths["rebuilderA"] + "\n",
		} {
			for _, file := range [][]byte{shippedBytes, []byte("other")} {
				res := f.evaluate(t, mustPolicy(t, y), file, f.docs())
				b, err := json.Marshal(res)
				if err != nil {
					t.Fatal(err)
				}
				if err := schemas.Validate("verify-result", b); err != nil {
					t.Errorf("%v\n%s", err, b)
				}
			}
		}
	})
}
