package item

import (
	"context"
	"fmt"
	"testing"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/centre/centretest/fixture"
)

// BenchmarkCheck is what accepting one review costs the centre: strict
// parsing, the statement and predicate read as verify reads them, one
// signature check (the signer's key is offered first, as the centre does)
// and the leaf's canonical form.
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	var envs []*envelope.Envelope
	for i := range 64 {
		raw, err := fixture.Review(ctx, alice, fmt.Sprintf("tool%d", i), "1.0", "bench")
		if err != nil {
			b.Fatal(err)
		}
		e, err := envelope.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		envs = append(envs, e)
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := Check(ctx, envs[i%len(envs)], known); err != nil {
			b.Fatal(err)
		}
	}
}
