package attest

import (
	"bytes"
	"encoding/json"
	"fmt"

	ita1 "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/reprove/reprove/attest/internal/strictjson"
)

// Statement types reprove reads. It writes v1; the cosign CLI's attest-blob
// still writes v0.1, which has the same shape for what reprove uses.
const (
	StatementV1  = ita1.StatementTypeUri // "https://in-toto.io/Statement/v1"
	StatementV01 = "https://in-toto.io/Statement/v0.1"
)

// MaxSubjects bounds the subjects of one statement.
const MaxSubjects = 1024

// Statement is a parsed in-toto statement. The predicate is kept as raw JSON
// and decoded by the reader that knows its type.
type Statement struct {
	Type          string
	Subject       []Subject
	PredicateType string
	Predicate     json.RawMessage
}

// Subject is one subject of a statement.
type Subject struct {
	Name   string
	Digest DigestSet
}

// wireStatement and wireDescriptor spell out the exact JSON names of an
// in-toto statement. They exist only for the strict name check: protojson,
// which decodes the statement into the in-toto bindings below, also accepts
// the proto field names ("predicate_type"), a second spelling we refuse.
type wireStatement struct {
	Type          string           `json:"_type"`
	Subject       []wireDescriptor `json:"subject"`
	PredicateType string           `json:"predicateType"`
	Predicate     json.RawMessage  `json:"predicate"`
}

type wireDescriptor struct {
	Name             string            `json:"name"`
	URI              string            `json:"uri"`
	Digest           map[string]string `json:"digest"`
	Content          string            `json:"content"`
	DownloadLocation string            `json:"downloadLocation"`
	MediaType        string            `json:"mediaType"`
	Annotations      json.RawMessage   `json:"annotations"`
}

// ParseStatement reads an in-toto statement (v1 or v0.1) strictly: exact key
// names, no duplicates, no unknown fields, a valid digest set with a
// sha256-class digest on every subject, and a JSON object as predicate.
func ParseStatement(b []byte) (*Statement, error) {
	var w wireStatement
	if err := strictjson.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	if w.Type != StatementV1 && w.Type != StatementV01 {
		return nil, fmt.Errorf("parse statement: _type is %q, want %q or %q", w.Type, StatementV1, StatementV01)
	}
	// Decode into the in-toto bindings too and let them validate. protojson
	// knows only v1 field names; v0.1 has the same ones for what we read.
	var st ita1.Statement
	if err := (protojson.UnmarshalOptions{}).Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	if len(st.GetSubject()) > MaxSubjects {
		return nil, fmt.Errorf("parse statement: %d subjects, more than %d", len(st.GetSubject()), MaxSubjects)
	}
	out := &Statement{Type: w.Type, PredicateType: st.GetPredicateType(), Predicate: w.Predicate}
	for i, rd := range st.GetSubject() {
		ds := DigestSet(rd.GetDigest())
		if err := ds.Validate(); err != nil {
			return nil, fmt.Errorf("parse statement: subject %d (%q): %w", i, rd.GetName(), err)
		}
		ds, err := ds.Normalized()
		if err != nil {
			return nil, fmt.Errorf("parse statement: subject %d (%q): %w", i, rd.GetName(), err)
		}
		out.Subject = append(out.Subject, Subject{Name: rd.GetName(), Digest: ds})
	}
	return out, nil
}

// newStatement builds an in-toto v1 statement with the bindings, validates
// it, and encodes it canonically (compact, keys in a fixed order) so the same
// inputs always give the same payload bytes and so the same digest.
func newStatement(subjects []*ita1.ResourceDescriptor, predicateType string, predicate proto.Message) ([]byte, error) {
	predJSON, err := protojson.Marshal(predicate)
	if err != nil {
		return nil, fmt.Errorf("encode predicate: %w", err)
	}
	var ps structpb.Struct
	if err := protojson.Unmarshal(predJSON, &ps); err != nil {
		return nil, fmt.Errorf("encode predicate: %w", err)
	}
	st := &ita1.Statement{
		Type:          StatementV1,
		Subject:       subjects,
		PredicateType: predicateType,
		Predicate:     &ps,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("build statement: %w", err)
	}
	return canonicalJSON(st)
}

// canonicalJSON encodes m with protojson and removes the whitespace that
// protojson deliberately varies between runs; field order is fixed by the
// schema and map keys are sorted, so the result is stable.
func canonicalJSON(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("encode statement: %w", err)
	}
	return buf.Bytes(), nil
}

// structOf turns a Go value into a protobuf Struct through JSON (our own
// predicates are Go structs; the in-toto Statement holds a Struct).
func structOf(v any) (*structpb.Struct, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var s structpb.Struct
	if err := protojson.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// strictProto decodes b into m strictly (see strictjson.UnmarshalProto).
func strictProto(b []byte, m proto.Message) error { return strictjson.UnmarshalProto(b, m) }

// descriptor builds an in-toto resource descriptor.
func descriptor(name, uri string, ds DigestSet, annotations map[string]any) (*ita1.ResourceDescriptor, error) {
	rd := &ita1.ResourceDescriptor{Name: name, Uri: uri, Digest: map[string]string(ds)}
	if len(annotations) > 0 {
		a, err := structpb.NewStruct(annotations)
		if err != nil {
			return nil, err
		}
		rd.Annotations = a
	}
	if err := rd.Validate(); err != nil {
		return nil, fmt.Errorf("resource %q: %w", name, err)
	}
	return rd, nil
}
