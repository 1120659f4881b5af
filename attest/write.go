package attest

import (
	"context"

	"github.com/reprove/reprove/internal/atomicfile"
)

// WriteFile writes an attestation (or any output) atomically: it appears
// whole at path or not at all.
func WriteFile(ctx context.Context, path string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}
