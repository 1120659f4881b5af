package cli

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	sigsig "github.com/sigstore/sigstore/pkg/signature"
	sigdsse "github.com/sigstore/sigstore/pkg/signature/dsse"

	"github.com/reprove/reprove/attest"
)

// TestREADMESlsaVerifier runs the README's `slsa-verifier verify-vsa`
// command as written, against a VSA that reprove's CLI signed as the README
// says (attest summary -o X.sigstore.json, which writes the bare VSA
// beside the bundle).
//
// slsa-verifier itself is not served by the Go module proxy, so the tests
// cannot build it. The command runs in bash (its $(…) expansions are
// real); `slsa-verifier` there records its arguments, and the checks of its
// verify-vsa (v2.7.1: verifiers/internal/vsa) follow on them with the same
// libraries it calls: go-securesystemslib's DSSE envelope verifier over
// sigstore's key loader and DSSE adapter, then the subject digest, verifier
// id, resource URI, PASSED and the verified levels.
func TestREADMESlsaVerifier(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	command := readmeExample(t, "slsa-verifier")

	tr := newTranscript(t)
	goldenKeys(t, tr.dir, "alice", "a")
	if err := os.Rename(filepath.Join(tr.dir, "a.pub"), filepath.Join(tr.dir, "rebuilder.pub")); err != nil {
		t.Fatal(err)
	}
	rec, err := json.Marshal(&attest.Rebuild{
		SchemaVersion:  attest.RebuildSchemaVersion,
		Recipe:         attest.RecipeRef{Name: "hello", Version: "1.0", Digest: digest.FromString("the recipe")},
		Source:         attest.Source{URI: "https://example.com/hello-1.0.tar", Archive: digest.FromString("src.tar")},
		BuilderID:      "https://rebuilder.example/reprove",
		ReproveVersion: "v0.1.0",
		Commands:       [][]string{{"go", "build", "-trimpath", "-o", "/out/hello", "."}},
		StartedOn:      goldenRebuildTime,
		FinishedOn:     goldenRebuildTime.Add(42 * time.Second),
		Outputs:        []attest.Output{{Name: "hello", Digest: digest.FromBytes(goldenShipped)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, tr.dir, map[string]string{"hello": string(goldenShipped), "rebuild.json": string(rec)})
	tr.env["REPROVE_PASSWORD"] = goldenPassword
	for _, args := range [][]string{
		{"attest", "rebuild", "--key", "a.key", "--result", "rebuild.json", "-o", "hello.rebuild.sigstore.json"},
		{"attest", "summary", "--key", "a.key", "--shipped", "hello", "--rebuild", "hello.rebuild.sigstore.json",
			"--resource-uri", "https://example.com/releases/hello", "-o", "hello.summary.sigstore.json"},
	} {
		if code := tr.run(args...); code != 0 {
			t.Fatalf("reprove %s: exit %d\n%s", strings.Join(args, " "), code, tr.b.String())
		}
	}

	// Run the README's command in bash, recording slsa-verifier's argv.
	script := "slsa-verifier() { printf '%s\\0' \"$@\" > argv; }\n" + command + "\n"
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = tr.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the README's command: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(tr.dir, "argv"))
	if err != nil {
		t.Fatal(err)
	}
	argv := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	if err := slsaVerifyVSA(tr.dir, argv); err != nil {
		t.Fatalf("slsa-verifier %s: %v", strings.Join(argv, " "), err)
	}

	// The checks are not vacuous: a level the VSA does not state, another
	// verifier, another file and another key are each refused.
	for _, tt := range []struct{ flag, value, want string }{
		{"--verified-level", "SLSA_BUILD_LEVEL_2", "expected SLSA level BUILD to be at least 2, got 1"},
		{"--verified-level", "SLSA_BUILD_REPRODUCED", "invalid SLSA level"},
		{"--verified-level", "REPROVE_SOURCE_REVIEWED", "expected verified level not found"},
		{"--verifier-id", "https://reprove.dev/builders/local", "verifier ID mismatch"},
		{"--subject-digest", digest.FromString("another file").String(), "expected digest not found"},
		{"--public-key-path", "alice.pub", "verifying envelope"},
	} {
		bad := append([]string(nil), argv...)
		bad = append(bad, tt.flag, tt.value)
		if tt.flag != "--verified-level" {
			bad = setFlag(argv, tt.flag, tt.value)
		}
		err := slsaVerifyVSA(tr.dir, bad)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("with %s %s: err = %v, want %q", tt.flag, tt.value, err, tt.want)
		}
	}
}

func setFlag(argv []string, flag, value string) []string {
	out := append([]string(nil), argv...)
	for i := range out {
		if out[i] == flag && i+1 < len(out) {
			out[i+1] = value
		}
	}
	return out
}

// slsaVerifyVSA does what `slsa-verifier verify-vsa` (v2.7.1) does with
// argv, in its order, and returns its first failure.
func slsaVerifyVSA(dir string, argv []string) error {
	if len(argv) == 0 || argv[0] != "verify-vsa" {
		return fmt.Errorf("not a verify-vsa command")
	}
	flags := map[string][]string{}
	for i := 1; i < len(argv); i++ {
		name, value, inline := strings.Cut(argv[i], "=")
		if !strings.HasPrefix(name, "--") {
			return fmt.Errorf("unexpected argument %q", argv[i])
		}
		if !inline {
			if i+1 >= len(argv) {
				return fmt.Errorf("flag %s has no value", name)
			}
			i++
			value = argv[i]
		}
		flags[strings.TrimPrefix(name, "--")] = append(flags[strings.TrimPrefix(name, "--")], value)
	}
	one := func(name string) string {
		if v := flags[name]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	for _, req := range []string{"attestation-path", "verifier-id", "resource-uri", "public-key-path"} {
		if one(req) == "" {
			return fmt.Errorf("required flag --%s is missing", req)
		}
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, one("public-key-path")))
	if err != nil {
		return err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pemBytes)
	if err != nil {
		return err
	}
	hash := crypto.SHA256
	if k, ok := pub.(*ecdsa.PublicKey); ok {
		switch k.Curve {
		case elliptic.P384():
			hash = crypto.SHA384
		case elliptic.P521():
			hash = crypto.SHA512
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, one("attestation-path")))
	if err != nil {
		return err
	}
	var env dsse.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("invalid DSSE envelope: %w", err)
	}
	if env.PayloadType != "application/vnd.in-toto+json" {
		return fmt.Errorf("payload type %q", env.PayloadType)
	}
	sv, err := sigsig.LoadVerifier(pub, hash)
	if err != nil {
		return err
	}
	ev, err := dsse.NewEnvelopeVerifier(&sigdsse.VerifierAdapter{SignatureVerifier: sv, Pub: pub, PubKeyID: one("public-key-id")})
	if err != nil {
		return err
	}
	if _, err := ev.Verify(context.Background(), &env); err != nil {
		return fmt.Errorf("verifying envelope: %w", err)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return err
	}
	var st struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Subject       []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
		Predicate struct {
			Verifier struct {
				ID string `json:"id"`
			} `json:"verifier"`
			ResourceURI        string   `json:"resourceUri"`
			VerificationResult string   `json:"verificationResult"`
			VerifiedLevels     []string `json:"verifiedLevels"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return err
	}
	if st.Type != "https://in-toto.io/Statement/v1" && st.Type != "https://in-toto.io/Statement/v0.1" {
		return fmt.Errorf("invalid statement type %q", st.Type)
	}
	if st.PredicateType != attest.VSAPredicateType {
		return fmt.Errorf("predicate type %q", st.PredicateType)
	}
	p := st.Predicate
	if len(flags["subject-digest"]) == 0 {
		return fmt.Errorf("no subject digests provided")
	}
	for _, want := range flags["subject-digest"] {
		alg, hex, ok := strings.Cut(want, ":")
		found := false
		for _, s := range st.Subject {
			found = found || ok && s.Digest[alg] == hex
		}
		if !found {
			return fmt.Errorf("expected digest not found: %s", want)
		}
	}
	if p.Verifier.ID != one("verifier-id") {
		return fmt.Errorf("verifier ID mismatch: wanted %s, got %s", one("verifier-id"), p.Verifier.ID)
	}
	if p.ResourceURI != one("resource-uri") {
		return fmt.Errorf("resource URI mismatch: wanted %s, got %s", one("resource-uri"), p.ResourceURI)
	}
	if p.VerificationResult != "PASSED" {
		return fmt.Errorf("verification result is not Passed: %s", p.VerificationResult)
	}
	// Names starting with SLSA_ are track levels, compared by number (the
	// highest per track); any other name must be present.
	got := map[string]int{}
	has := map[string]bool{}
	for _, l := range p.VerifiedLevels {
		if !strings.HasPrefix(l, "SLSA_") {
			has[l] = true
			continue
		}
		track, n, err := slsaTrackLevel(l)
		if err != nil {
			return err
		}
		got[track] = max(got[track], n)
	}
	for _, l := range flags["verified-level"] {
		if !strings.HasPrefix(l, "SLSA_") {
			if !has[l] {
				return fmt.Errorf("expected verified level not found: %s", l)
			}
			continue
		}
		track, n, err := slsaTrackLevel(l)
		if err != nil {
			return err
		}
		if g, found := got[track]; !found {
			return fmt.Errorf("expected SLSA level not found: %s", track)
		} else if g < n {
			return fmt.Errorf("expected SLSA level %s to be at least %d, got %d", track, n, g)
		}
	}
	return nil
}

// slsaTrackLevel parses SLSA_<TRACK>_LEVEL_<N>; another name starting with
// SLSA_ is an invalid level to slsa-verifier.
func slsaTrackLevel(l string) (track string, n int, err error) {
	parts := strings.SplitN(l, "_", 4)
	if len(parts) == 4 && parts[2] == "LEVEL" {
		if n, err := strconv.Atoi(parts[3]); err == nil {
			return parts[1], n, nil
		}
	}
	return "", 0, fmt.Errorf("invalid SLSA level: %s", l)
}
