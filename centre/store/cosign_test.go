package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/centre/store"
)

// TestCosignatures: each witness keeps its newest line per tree size (an
// older one never replaces it), and LatestCosigned finds the largest size
// that enough witnesses cosigned.
func TestCosignatures(t *testing.T) {
	for name, b := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st, err := b.open()
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.LatestCosigned(ctx, 1, []string{"a", "b"}); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("an empty table: %v", err)
			}
			t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			for _, c := range []store.Cosignature{
				{Size: 5, Witness: "a", Line: []byte("— a 1\n"), At: t0},
				{Size: 5, Witness: "b", Line: []byte("— b 1\n"), At: t0},
				{Size: 9, Witness: "a", Line: []byte("— a 2\n"), At: t0.Add(time.Second)},
				{Size: 9, Witness: "a", Line: []byte("— a 3\n"), At: t0.Add(time.Hour)},
				{Size: 9, Witness: "a", Line: []byte("— a old\n"), At: t0.Add(time.Minute)},
			} {
				if err := st.AddCosignature(ctx, c); err != nil {
					t.Fatal(err)
				}
			}
			got, err := st.Cosignatures(ctx, 9)
			if err != nil {
				t.Fatal(err)
			}
			want := []store.Cosignature{{Size: 9, Witness: "a", Line: []byte("— a 3\n"), At: t0.Add(time.Hour)}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("cosignatures of 9 (-want +got):\n%s", diff)
			}
			for n, want := range map[int]int64{1: 9, 2: 5} {
				if got, err := st.LatestCosigned(ctx, n, []string{"a", "b", "c"}); err != nil || got != want {
					t.Errorf("LatestCosigned(%d) = %d, %v; want %d", n, got, err, want)
				}
			}
			if _, err := st.LatestCosigned(ctx, 3, []string{"a", "b", "c"}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("LatestCosigned(3): %v", err)
			}
			// A witness no longer named does not count.
			if got, err := st.LatestCosigned(ctx, 1, []string{"b"}); err != nil || got != 5 {
				t.Errorf("LatestCosigned(1, b) = %d, %v; want 5", got, err)
			}
		})
	}
}
