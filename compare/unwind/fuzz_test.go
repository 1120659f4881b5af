package unwind_test

import (
	"debug/elf"
	"encoding/binary"
	"testing"

	"github.com/reprove/reprove/compare/unwind"
)

func FuzzEHFrame(f *testing.F) {
	le := binary.LittleEndian
	f.Add([]byte{0x10, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 16, 1, 0x1b, 0, 0, 0}, uint64(0x1000), true)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, 0, 0, 0, 0}, uint64(0), false)
	if ef, err := elf.Open("/proc/self/exe"); err == nil {
		if s := ef.Section(".eh_frame"); s != nil && s.Size < 1<<20 {
			if b, err := s.Data(); err == nil {
				f.Add(b, s.Addr, true)
			}
		}
		ef.Close()
	}
	f.Fuzz(func(t *testing.T, data []byte, addr uint64, wide bool) {
		ptr := 4
		if wide {
			ptr = 8
		}
		rs, err := unwind.EHFrame(data, addr, ptr, le)
		if err != nil {
			return
		}
		for i, r := range rs {
			if r.Size == 0 || (i > 0 && r.Start <= rs[i-1].Start) {
				t.Fatalf("range %d %+v after %+v", i, r, rs[max(i-1, 0)])
			}
		}
	})
}

func FuzzPData(f *testing.F) {
	f.Add([]byte{0, 0x10, 0, 0, 0x40, 0x10, 0, 0, 0, 0, 0, 0}, uint64(0x140000000))
	f.Fuzz(func(t *testing.T, data []byte, base uint64) {
		if rs, err := unwind.PData(data, base); err == nil {
			for i := 1; i < len(rs); i++ {
				if rs[i].Start <= rs[i-1].Start {
					t.Fatalf("unsorted: %+v", rs)
				}
			}
		}
		unwind.PDataARM64(data, base)
	})
}
