package centre

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/witness"
	"github.com/reprove/reprove/internal/escape"
)

// Health says whether the centre can take submissions now: its store
// answers and is the file it opened (a SQLite file removed or replaced
// while serving is caught), its log's last commit succeeded (a full disk,
// an outage or a database rolled back behind it are caught), and, when
// that commit failed, a small write to the store succeeds again.
func (c *Centre) Health(ctx context.Context) error {
	if err := c.st.Check(ctx); err != nil {
		return fmt.Errorf("the store: %w", err)
	}
	if err := c.log.Health(); err != nil {
		if errors.Is(err, merklelog.ErrRolledBack) {
			return fmt.Errorf("the last append: %w", err)
		}
		// The fault may have passed (space freed, the database back):
		// only a write can tell.
		if perr := c.st.Probe(ctx, c.clock()); perr != nil {
			return fmt.Errorf("the last append failed (%v), and a write still fails: %w", err, perr)
		}
	}
	if _, _, err := c.log.Latest(ctx); err != nil {
		return fmt.Errorf("the latest checkpoint: %w", err)
	}
	return nil
}

func (c *Centre) getHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := c.Health(ctx); err != nil {
		c.logf("centre: unhealthy: %v", err)
		retryAfter(w, 5*time.Second)
		writeJSON(w, http.StatusServiceUnavailable, &api.Error{SchemaVersion: api.SchemaVersion, Code: api.CodeUnavailable, Message: "unhealthy: " + err.Error()})
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, "ok\n")
	// A witness that is down does not make the centre unhealthy (appends
	// go on and cosigning catches up), but its operator should see it.
	for _, s := range c.Witnesses() {
		io.WriteString(w, witnessLine(s)+"\n")
	}
}

// witnessLine is one line of /healthz about a witness. The names and
// errors are the operator's own configuration and the witness's replies;
// escape.Line keeps them on one line.
func witnessLine(s witness.Status) string {
	line := fmt.Sprintf("witness %s: cosigned tree size %d", s.Witness, s.Cosigned)
	if !s.At.IsZero() {
		line += " at " + s.At.UTC().Format(time.RFC3339)
	}
	if s.Err != nil {
		line += "; last attempt failed: " + s.Err.Error()
	}
	return escape.Line(line)
}

func (c *Centre) getKeys(w http.ResponseWriter, r *http.Request) {
	recs, err := c.st.Keys(r.Context())
	if err != nil {
		c.failItem(w, "", err)
		return
	}
	rep := api.KeysReply{SchemaVersion: api.SchemaVersion, Keys: []api.KeyReply{}}
	for _, k := range recs {
		role, _ := k.Role.MarshalText()
		kr := api.KeyReply{Name: k.Name, Role: string(role), Fingerprint: k.Fingerprint, AddedAt: k.AddedAt.UTC().Format(time.RFC3339), PublicKey: string(k.PEM)}
		if k.Revoked {
			kr.RevokedAt = k.RevokedAt.UTC().Format(time.RFC3339)
			kr.RevocationEntry = &k.RevokedIndex
		}
		rep.Keys = append(rep.Keys, kr)
	}
	writeJSON(w, http.StatusOK, rep)
}
