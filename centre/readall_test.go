package centre

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAll reads what io.ReadAll reads, whatever length was declared.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("0123456789", 150)
	for _, declared := range []int64{-1, 0, 1, 512, 1499, 1500, 1501, 4096} {
		for name, r := range map[string]func() io.Reader{
			"whole":    func() io.Reader { return strings.NewReader(body) },
			"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
			"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(body)) },
			"data+EOF": func() io.Reader { return iotest.DataErrReader(strings.NewReader(body)) },
		} {
			got, err := readAll(r(), declared)
			if err != nil || string(got) != body {
				t.Errorf("%s, %d declared: %d bytes, %v", name, declared, len(got), err)
			}
		}
	}
	// A reader's error comes through with what was read before it.
	boom := errors.New("boom")
	got, err := readAll(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(boom)), 10)
	if !errors.Is(err, boom) || !bytes.Equal(got, []byte("abc")) {
		t.Errorf("after an error: %q, %v", got, err)
	}
}
