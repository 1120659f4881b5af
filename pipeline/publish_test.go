package pipeline_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/centre"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/pipeline"
)

// TestPublishOnceEach: reprove rebuild writes each attestation twice, as a
// bare envelope and as a Sigstore bundle; publishing the directory submits
// each envelope once.
func TestPublishOnceEach(t *testing.T) {
	ctx := context.Background()
	c := centretest.Start(t, centretest.Options{})
	rel, err := fixture.MakeReleaseWith(ctx, "hello", "1.0", []*fixture.Party{centretest.Alice}, []fixture.Say{{Rebuilder: centretest.RebA}}, fixture.Options{NoReports: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := centretest.RebA.Name
	for name, f := range map[string]struct {
		env    []byte
		signer *fixture.Party
	}{
		"review":     {rel.Reviews[0], centretest.Alice},
		"rebuild":    {rel.Rebuilds[a], centretest.RebA},
		"comparison": {rel.Comparisons[a], centretest.RebA},
		"summary":    {rel.Summaries[a], centretest.RebA},
	} {
		if err := attest.WriteAttestation(ctx, filepath.Join(dir, name+".intoto.json"), f.env); err != nil {
			t.Fatal(err)
		}
		if err := attest.WriteSigned(ctx, filepath.Join(dir, name+attest.BundleExt), f.env, f.signer.Signer); err != nil {
			t.Fatal(err)
		}
	}
	res, err := pipeline.Publish(ctx, pipeline.PublishRequest{Server: c.URL, LogKey: centre.VerifierKeyPath(c.Dir), Files: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Documents) != 4 || res.TreeSize != 4 {
		t.Errorf("published %d documents, tree size %d; want the 4 envelopes once each", len(res.Documents), res.TreeSize)
	}
	for _, d := range res.Documents {
		if !d.New {
			t.Errorf("%s: logged already", d.Source)
		}
	}
}
