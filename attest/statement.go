package attest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

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
//
// The in-toto bindings validate it (ita1.Statement.Validate), filled from
// the strictly decoded statement rather than by protojson: protojson would
// decode the whole predicate into a protobuf Struct only to be thrown away,
// the larger part of what reading a statement cost (the centre reads one
// for every submission). bindings refuses what protojson refused and
// the strict decoding does not (see FuzzParseStatementAsProtojson).
func ParseStatement(b []byte) (*Statement, error) {
	var w wireStatement
	if err := strictjson.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("parse statement: %w", err)
	}
	if w.Type != StatementV1 && w.Type != StatementV01 {
		return nil, fmt.Errorf("parse statement: _type is %q, want %q or %q", w.Type, StatementV1, StatementV01)
	}
	st, err := w.bindings(b)
	if err != nil {
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

// bindings fills the in-toto bindings' statement with what their Validate
// reads, after checking what protojson would have refused in decoding raw
// (the statement's bytes) into them: strings that are not UTF-8, content
// that is not base64, annotations or a predicate that is not an object.
// The predicate itself stays raw JSON; an object stands for it.
func (w *wireStatement) bindings(raw []byte) (*ita1.Statement, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("invalid UTF-8")
	}
	st := &ita1.Statement{Type: w.Type, PredicateType: w.PredicateType}
	pred, err := objectOrNull("predicate", w.Predicate)
	if err != nil {
		return nil, err
	}
	if pred {
		st.Predicate = &structpb.Struct{}
	}
	for i, d := range w.Subject {
		if _, err := objectOrNull(fmt.Sprintf("subject[%d].annotations", i), d.Annotations); err != nil {
			return nil, err
		}
		if d.Content != "" && !isProtoBase64(d.Content) {
			return nil, fmt.Errorf("subject[%d].content: not base64", i)
		}
		st.Subject = append(st.Subject, &ita1.ResourceDescriptor{Name: d.Name, Uri: d.URI, Digest: d.Digest,
			DownloadLocation: d.DownloadLocation, MediaType: d.MediaType})
	}
	return st, nil
}

// objectOrNull reports whether raw (a field's JSON, empty when absent) is
// an object; null and absence are false, anything else an error.
func objectOrNull(field string, raw json.RawMessage) (bool, error) {
	v := bytes.TrimSpace(raw)
	switch {
	case len(v) == 0 || string(v) == "null":
		return false, nil
	case v[0] == '{':
		return true, nil
	}
	return false, fmt.Errorf("%s: not a JSON object", field)
}

// isProtoBase64 reports whether s is base64 as protojson reads a bytes
// field: standard or URL alphabet, padded or not.
func isProtoBase64(s string) bool {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	_, err := enc.DecodeString(s)
	return err == nil
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
