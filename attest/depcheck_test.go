package attest_test

import (
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The customer's verifier: what `reprove verify` runs to read policies,
// keys, envelopes, Sigstore bundles and log bundles and to evaluate them.
var verifierPackages = []string{
	"github.com/reprove/reprove/attest",
	"github.com/reprove/reprove/attest/envelope",
	"github.com/reprove/reprove/attest/keyless",
	"github.com/reprove/reprove/attest/keys",
	"github.com/reprove/reprove/attest/logproof",
	"github.com/reprove/reprove/attest/policy",
	"github.com/reprove/reprove/attest/sigbundle",
}

// verifierModules are the only modules the verifier may stand on, each
// for a reason. A new one is a decision to make here, on purpose: the
// verifier is reprove's light client, and a security reviewer counts what
// it trusts (sunlight's client needs 19 non-standard packages).
var verifierModules = map[string]string{
	"github.com/reprove/reprove":                  "itself",
	"github.com/opencontainers/go-digest":         "every digest is a digest.Digest",
	"github.com/in-toto/attestation":              "in-toto statements, SLSA provenance and VSA bindings",
	"google.golang.org/protobuf":                  "what the in-toto and Sigstore bindings are made of",
	"github.com/sigstore/protobuf-specs":          "the Sigstore bundle specification's own types",
	"google.golang.org/genproto/googleapis/api":   "field annotations the Sigstore bindings import",
	"golang.org/x/mod":                            "signed notes and Merkle proofs (sumdb/note, sumdb/tlog)",
	"github.com/cyberphone/json-canonicalization": "RFC 8785 JSON, the log's leaf form",
	"go.yaml.in/yaml/v3":                          "the trust policy is YAML",
	"github.com/transparency-dev/formats":         "witnesses' C2SP cosignature/v1 signatures on checkpoints (its note package only)",
	"github.com/go-json-experiment/json":          "strict JSON (json/v2's prototype, no dependencies): jsontext reads the tokens that judge duplicate and case-variant keys and field names, and its v1 semantics decode in one pass what encoding/json scans twice",
	"github.com/digitorus/timestamp":              "RFC 3161 signed timestamps of keyless bundles (attest/keyless), on the standard library",
	"github.com/digitorus/pkcs7":                  "the CMS signature of an RFC 3161 timestamp, on the standard library",
}

// heavy are what the verifier once carried through cosign and sigstore-go
// (94 modules, a 29.4 MB binary), named so that a failure says which.
var heavy = []string{
	"github.com/sigstore/cosign",
	"github.com/sigstore/sigstore-go",
	"github.com/sigstore/sigstore",
	"github.com/sigstore/rekor",
	"github.com/theupdateframework",
	"google.golang.org/grpc",
	"go.opentelemetry.io",
	"github.com/go-openapi",
	"github.com/docker",
	"github.com/google/go-containerregistry",
	"github.com/secure-systems-lab/go-securesystemslib",
	"golang.org/x/crypto",
	// and of reprove: signing (private keys) and the recipe format.
	"github.com/reprove/reprove/attest/signing",
	"github.com/reprove/reprove/recipes",
}

// TestVerifierDependencies pins the verifier's import set, as crane's
// depcheck and govulncheck's TestDependencies do: a heavy module (a Rekor
// client, TUF, gRPC) creeping back in through a convenient import fails
// here, by name. Tests' own imports are not counted: they are not in any
// binary.
func TestVerifierDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", append([]string{"list", "-deps",
		"-f", "{{if not .Standard}}{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}{{end}}"}, verifierPackages...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	modules := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, mod, _ := strings.Cut(line, " ")
		if pkg == "" {
			continue
		}
		modules[mod] = append(modules[mod], pkg)
		for _, h := range heavy {
			if pkg == h || strings.HasPrefix(pkg, h+"/") {
				t.Errorf("the verifier imports %s (module %s)", pkg, mod)
			}
		}
	}
	var names []string
	for m := range modules {
		names = append(names, m)
		if _, ok := verifierModules[m]; !ok {
			t.Errorf("the verifier stands on module %s, which is not among those allowed (through %s); if it must, add it to verifierModules with the reason", m, strings.Join(modules[m], ", "))
		}
	}
	sort.Strings(names)
	if !slices.Contains(names, "github.com/opencontainers/go-digest") || len(names) < 3 {
		t.Fatalf("go list named implausibly few modules: %v", names)
	}
	// The target of issue 17: at most 20 modules besides the standard
	// library (the dependency set, not counting reprove itself).
	if n := len(names) - 1; n > 20 {
		t.Errorf("the verifier stands on %d modules, more than 20: %v", n, names)
	}
	t.Logf("the verifier's %d modules: %s", len(names), strings.Join(names, ", "))
}
