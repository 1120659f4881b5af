package centre

import "context"

// RevokeKey is the package's RevokeKey on a centre the test already runs.
func (c *Centre) RevokeKey(ctx context.Context, name, reason string) (*Revoked, error) {
	return revoke(ctx, c.st, c.log, name, reason, c.clock())
}
