package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/reprove/reprove/attest"
)

// ParseRebuildRecord reads the record of a build that `reprove attest
// rebuild` signs, from either file a rebuild writes: rebuild.json (the
// record itself) or result.json (the whole result, whose "rebuild" member
// is the same record). Either is decoded as strictly as attest.ParseRebuild
// decodes a record.
func ParseRebuildRecord(b []byte) (*attest.Rebuild, error) {
	// A result is told from a record by its members: a record has neither
	// "verdict" nor "rebuild". Only the top level is read loosely here; the
	// record inside is decoded strictly.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return attest.ParseRebuild(b)
	}
	rec, isResult := top["rebuild"]
	if _, ok := top["verdict"]; !ok || !isResult {
		return attest.ParseRebuild(b)
	}
	var version int
	if err := json.Unmarshal(top["schemaVersion"], &version); err != nil || version != RebuildSchemaVersion {
		return nil, fmt.Errorf("parse rebuild result: a result.json of schemaVersion %s; this reprove reads %d", top["schemaVersion"], RebuildSchemaVersion)
	}
	if string(rec) == "null" {
		return nil, errors.New("parse rebuild result: the result records no build (the build failed): there is nothing to attest")
	}
	r, err := attest.ParseRebuild(rec)
	if err != nil {
		return nil, fmt.Errorf("result.json: rebuild: %w", err)
	}
	return r, nil
}
