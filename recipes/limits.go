package recipes

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// sizeUnits are the binary units a memory limit may use. Decimal units
// (KB, MB, GB) are refused rather than guessed at: tools disagree on whether
// "GB" means 10^9 or 2^30 (docker/go-units' RAMInBytes takes it as 2^30),
// which is why this small parser is written here instead of imported.
var sizeUnits = []struct {
	suffix string
	shift  uint
}{
	{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0},
}

// ParseSize parses a size written as a positive integer and a binary unit:
// "512MiB", "4GiB", "65536B".
func ParseSize(s string) (int64, error) {
	for _, u := range sizeUnits {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 {
			break
		}
		if n > math.MaxInt64>>u.shift {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return n << u.shift, nil
	}
	return 0, fmt.Errorf("%q is not a size: write a positive integer and one of B, KiB, MiB, GiB, TiB (for example 4GiB)", s)
}

// MemoryBytes is Memory in bytes, or 0 when unset (the builder's default).
func (l Limits) MemoryBytes() (int64, error) {
	if l.Memory == "" {
		return 0, nil
	}
	return ParseSize(l.Memory)
}

// TimeoutDuration is Timeout as a duration, or 0 when unset (the builder's
// default).
func (l Limits) TimeoutDuration() (time.Duration, error) {
	if l.Timeout == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(l.Timeout)
	if err != nil {
		return 0, fmt.Errorf("parse timeout: %w", err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("parse timeout: %q is not positive", l.Timeout)
	}
	return d, nil
}
