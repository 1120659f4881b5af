package pipeline

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVerdictText(t *testing.T) {
	for _, v := range []Verdict{Reproduced, NotReproduced, Rebuilt} {
		b, err := v.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var got Verdict
		if err := got.UnmarshalText(b); err != nil || got != v {
			t.Errorf("%v: round trip gave %v, %v", v, got, err)
		}
	}
	if _, err := Verdict(0).MarshalText(); err == nil {
		t.Error("the zero verdict was written")
	}
	var v Verdict
	if err := v.UnmarshalText([]byte("Reproduced")); err == nil {
		t.Error("a verdict word in another case was read")
	}
}

// A stage that is aborted leaves nothing, not even the parents it made; a
// committed one appears whole; an existing directory is refused unless
// replaced.
func TestStage(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "reprove-out", "deeper", "hello-1.0")
	st, err := newStage(out, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.writeFile("a/b.txt", func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	st.abort()
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Fatalf("an aborted stage left %v in %s", names(ents), root)
	}

	st, err = newStage(out, false)
	if err != nil {
		t.Fatal(err)
	}
	st.writeFile("result.json", func(w io.Writer) error { _, err := w.Write([]byte("{}")); return err })
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("the output directory appeared before the commit")
	}
	if err := st.commit(false); err != nil {
		t.Fatal(err)
	}
	st.abort() // a no-op after commit
	if b, err := os.ReadFile(filepath.Join(out, "result.json")); err != nil || string(b) != "{}" {
		t.Fatalf("committed file: %q, %v", b, err)
	}
	var ee *ExistsError
	if _, err := newStage(out, false); !errors.As(err, &ee) {
		t.Fatalf("an existing output directory: %v, want *ExistsError", err)
	}
	st, err = newStage(out, true)
	if err != nil {
		t.Fatal(err)
	}
	st.writeFile("new", func(w io.Writer) error { return nil })
	if err := st.commit(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "result.json")); !os.IsNotExist(err) {
		t.Error("replacing kept a file of the old directory")
	}
	// Aborting a stage under an existing parent keeps the parent.
	st, _ = newStage(filepath.Join(root, "reprove-out", "other"), false)
	st.abort()
	if _, err := os.Stat(filepath.Join(root, "reprove-out")); err != nil {
		t.Error("abort removed a parent it did not make")
	}
}

// Two failed builds in the same second keep two logs.
func TestKeepLogUnique(t *testing.T) {
	cache := t.TempDir()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	var kept []string
	for i := range 2 {
		log := filepath.Join(t.TempDir(), "build.log")
		os.WriteFile(log, []byte{byte('a' + i)}, 0o644)
		err := keepLog(cache, "hello", "1.0", log, now, errors.New("build failed"))
		_, p, ok := strings.Cut(err.Error(), "(build log: ")
		if !ok {
			t.Fatalf("the error does not name the log: %v", err)
		}
		kept = append(kept, strings.TrimSuffix(p, ")"))
	}
	if kept[0] == kept[1] {
		t.Fatalf("two failures share %s", kept[0])
	}
	for i, p := range kept {
		if b, _ := os.ReadFile(p); string(b) != string(rune('a'+i)) {
			t.Errorf("log %d holds %q", i, b)
		}
	}
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}
