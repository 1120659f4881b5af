package recipes

import (
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// sizeUnits are the binary units a size may use, matched without regard to
// case. Decimal units (KB, MB, GB) and bare letters (K, M, G) are refused
// rather than guessed at: tools disagree on whether "GB" means 10^9 or 2^30
// (docker/go-units' RAMInBytes takes it as 2^30, dustin/go-humanize as
// 10^9), which is why this small parser is written here instead of
// imported.
var sizeUnits = []struct {
	suffix string
	shift  uint
}{
	{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0},
}

// ambiguousUnits are the spellings refused with a hint.
var ambiguousUnits = map[string]string{
	"k": "KiB", "kb": "KiB", "m": "MiB", "mb": "MiB", "g": "GiB", "gb": "GiB", "t": "TiB", "tb": "TiB",
	"ki": "KiB", "mi": "MiB", "gi": "GiB", "ti": "TiB",
}

// ParseSize parses a size: a positive number of bytes, optionally followed
// (with or without a space) by a binary unit B, KiB, MiB, GiB or TiB in any
// case. The number may have a fraction when the unit makes it whole bytes:
// "512MiB", "4 GiB", "1.5GiB", "65536", "65536B".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(c rune) bool { return (c < '0' || c > '9') && c != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	shift := uint(0)
	if unit != "" {
		found := false
		for _, u := range sizeUnits {
			if strings.EqualFold(unit, u.suffix) {
				shift, found = u.shift, true
				break
			}
		}
		if !found {
			if want, ok := ambiguousUnits[strings.ToLower(unit)]; ok {
				return 0, fmt.Errorf("%q: the unit %s is ambiguous (decimal or binary?); write %s", s, unit, want)
			}
			return 0, sizeSyntax(s)
		}
	}
	if num == "" || strings.Count(num, ".") > 1 || strings.HasPrefix(num, ".") || strings.HasSuffix(num, ".") {
		return 0, sizeSyntax(s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, sizeSyntax(s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), shift)))
	switch {
	case r.Sign() <= 0:
		return 0, fmt.Errorf("%q: a size must be positive", s)
	case !r.IsInt():
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	case !r.Num().IsInt64():
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return r.Num().Int64(), nil
}

func sizeSyntax(s string) error {
	return fmt.Errorf("%q is not a size: write a number of bytes, or a number and one of B, KiB, MiB, GiB, TiB (for example 4GiB)", s)
}

// FormatSize writes n bytes the way ParseSize reads it, exactly: in the
// largest binary unit that divides it ("4GiB", "1536MiB", "1000B").
func FormatSize(n int64) string {
	if n == 0 {
		return "0B"
	}
	for _, u := range sizeUnits {
		if n%(1<<u.shift) == 0 && n != math.MinInt64 {
			return fmt.Sprintf("%d%s", n>>u.shift, u.suffix)
		}
	}
	return fmt.Sprintf("%dB", n)
}

func parseLimitSize(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return ParseSize(s)
}

// MemoryBytes is Memory in bytes, or 0 when unset (the builder's default).
func (l Limits) MemoryBytes() (int64, error) { return parseLimitSize(l.Memory) }

// DiskBytes is Disk in bytes, or 0 when unset (the builder's default).
func (l Limits) DiskBytes() (int64, error) { return parseLimitSize(l.Disk) }

// OutputBytes is OutputSize in bytes, or 0 when unset (the builder's
// default).
func (l Limits) OutputBytes() (int64, error) { return parseLimitSize(l.OutputSize) }

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
