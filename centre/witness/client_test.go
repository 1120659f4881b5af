package witness

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/attest/logproof/logprooftest"
)

func TestParse(t *testing.T) {
	w, err := logprooftest.NewWitness("witness.example")
	if err != nil {
		t.Fatal(err)
	}
	good, err := Parse(w.Key + " http://127.0.0.1:7380/")
	if err != nil || good.Name() != "witness.example" || good.URL != "http://127.0.0.1:7380" {
		t.Fatalf("%+v %v", good, err)
	}
	for _, spec := range []string{"", w.Key, "http://x " + w.Key + " y", "not-a-key http://x", w.Key + " ftp://x", w.Key + " http://"} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("%q: accepted", spec)
		}
	}
}

// TestAddCheckpointReplies: what a witness answers, read strictly. A real
// witness (litewitness) answers in the centre's tests; here a server plays
// each answer, including ones no honest witness gives.
func TestAddCheckpointReplies(t *testing.T) {
	ctx := context.Background()
	skey, _, _ := note.GenerateKey(rand.Reader, "log.example")
	signed, err := logproof.Sign(logproof.Checkpoint{Origin: "log.example", Size: 3, Hash: tlog.Hash{1}}, skey)
	if err != nil {
		t.Fatal(err)
	}
	lw, _ := logprooftest.NewWitness("witness.example")
	other, _ := logprooftest.NewWitness("other.example")
	line := lw.Cosign(signed, time.Now())
	var request string
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string // "" accepts
	}{
		{"a cosignature", 200, string(line), ""},
		{"with another witness's line first", 200, string(other.Cosign(signed, time.Now())) + string(line), ""},
		{"another witness's only", 200, string(other.Cosign(signed, time.Now())), "holds no valid cosignature of the checkpoint by this witness"},
		{"a cosignature of something else", 200, string(lw.Cosign([]byte("log.example\n4\nAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"), time.Now())), "holds no valid cosignature"},
		{"not lines", 200, "ok", "not signature lines"},
		{"empty", 200, "", "not signature lines"},
		{"conflict", 409, "7\n", "the witness holds the log at tree size 7"},
		{"conflict without a size", 409, "seven\n", "409 without a tree size"},
		{"bad proof", 422, "bad consistency proof\n", "the witness refused (422: the log's tree does not extend the one it cosigned before): bad consistency proof"},
		{"unknown log", 403, "unknown log\n", "the witness refused (403: it does not know this log or its key)"},
		{"too long", 200, strings.Repeat("x", maxReply+10), "reply larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				request = string(b)
				if r.URL.Path != "/add-checkpoint" || r.Method != http.MethodPost {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			w, err := New(lw.Key, srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, err := w.AddCheckpoint(ctx, srv.Client(), 2, []tlog.Hash{{2}, {3}}, signed)
			if tc.want == "" {
				if err != nil || string(got) != string(line) {
					t.Fatalf("got %q, %v", got, err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			want := fmt.Sprintf("old 2\n%s\n%s\n\n%s", tlog.Hash{2}, tlog.Hash{3}, signed)
			if request != want {
				t.Errorf("request:\n%s\nwant:\n%s", request, want)
			}
		})
	}
	var ce *ConflictError
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(409)
		io.WriteString(w, "12\n")
	}))
	defer srv.Close()
	w, _ := New(lw.Key, srv.URL)
	if _, err := w.AddCheckpoint(ctx, srv.Client(), 0, nil, signed); !errors.As(err, &ce) || ce.Known != 12 {
		t.Errorf("409: %v", err)
	}
	if at, err := At(line); err != nil || time.Since(at) > time.Minute {
		t.Errorf("At: %v %v", at, err)
	}
}

// FuzzCosignature: a witness's reply is untrusted; reading it never panics
// and accepts only a valid cosignature of the checkpoint by the witness.
func FuzzCosignature(f *testing.F) {
	skey, _, _ := note.GenerateKey(rand.Reader, "log.example")
	signed, _ := logproof.Sign(logproof.Checkpoint{Origin: "log.example", Size: 3, Hash: tlog.Hash{1}}, skey)
	lw, _ := logprooftest.NewWitness("witness.example")
	w, _ := New(lw.Key, "http://127.0.0.1:1")
	f.Add(lw.Cosign(signed, time.Now()))
	f.Add([]byte("— witness.example AAAA\n"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, reply []byte) {
		line, err := w.cosignature(signed, reply)
		if err != nil {
			return
		}
		n, err := note.Open(append(append([]byte{}, signed...), line...), note.VerifierList(w.v))
		if err != nil || len(n.Sigs) != 1 {
			t.Fatalf("accepted %q: %v", line, err)
		}
	})
}
