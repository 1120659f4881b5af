package centre

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/schemas"
)

// FuzzDecodeSubmission feeds arbitrary bodies to the submission decoder
// and the item checks (with no key registered, so nothing can pass): they
// must refuse with an *item.Error, never panic.
func FuzzDecodeSubmission(f *testing.F) {
	rel, err := fixture.MakeRelease(context.Background(), "hello", "1.0", []*fixture.Party{alice}, says[:1])
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range rel.All(says[:1]) {
		f.Add(e)
	}
	f.Add(bytes.Join(rel.All(says[:1]), []byte("\n")))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AA=="}]}`))
	f.Add([]byte(`{"base64Signature":"e30="}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		docs, err := DecodeSubmission(body)
		if err != nil {
			var ie *item.Error
			if !asItemError(err, &ie) {
				t.Fatalf("decode: %T %v", err, err)
			}
			return
		}
		for _, d := range docs {
			if _, err := item.Check(context.Background(), d.Envelope, nil); err == nil {
				t.Fatal("an envelope passed with no key registered")
			}
		}
	})
}

func asItemError(err error, target **item.Error) bool {
	for err != nil {
		if ie, ok := err.(*item.Error); ok {
			*target = ie
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// FuzzHandlers sends arbitrary requests to the API: every answer is 200 or
// a JSON error under its schema, never a 5xx, and the log only grows by
// what a 200 acknowledged.
func FuzzHandlers(f *testing.F) {
	f.Add("POST", api.PathAttestations, []byte(`{"payloadType":`))
	f.Add("POST", api.PathCompareReports, []byte(`{"schemaVersion":1,"verdict":"different"}`))
	f.Add("GET", api.PathArtifacts+"sha256:00", []byte(nil))
	f.Add("GET", api.PathConsistency+"?from=1&to=0", []byte(nil))
	f.Add("GET", api.PathEntries+"7", []byte(nil))
	f.Add("GET", "/tile/0/x001/000.p/3", []byte(nil))
	f.Add("GET", "/search?q=sha256:zz", []byte(nil))
	c, err := Open(context.Background(), Config{DataDir: f.TempDir(), Origin: "fuzz.test/log"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })
	h := c.Handler()
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		if method != "GET" && method != "POST" {
			method = "GET"
		}
		req, err := http.NewRequest(method, "http://centre.test/"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") == api.MediaJSON {
			if err := schemas.Validate("centre-error", rec.Body.Bytes()); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			var e api.Error
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Message == "" {
				t.Fatalf("%s %s: error without a message", method, path)
			}
		}
	})
}
