package goproxy

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"golang.org/x/mod/module"
)

// ParseGoSum reads a go.sum file. name is used in errors ("go.sum:3: …").
// Each module version appears once in the result, with its zip hash (if
// listed) and its go.mod hash, sorted by path and version.
func ParseGoSum(name string, data []byte) ([]Module, error) {
	byKey := map[string]*Module{}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: malformed line %q (want: path version hash)", name, i+1, line)
		}
		path, version, sum := f[0], f[1], f[2]
		goMod := strings.HasSuffix(version, "/go.mod")
		version = strings.TrimSuffix(version, "/go.mod")
		if err := module.Check(path, version); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		if err := checkH1(sum); err != nil {
			return nil, fmt.Errorf("%s:%d: %s@%s: %w", name, i+1, path, version, err)
		}
		key := path + "@" + version
		m := byKey[key]
		if m == nil {
			m = &Module{Path: path, Version: version}
			byKey[key] = m
		}
		slot := &m.Sum
		if goMod {
			slot = &m.ModSum
		}
		if *slot != "" && *slot != sum {
			return nil, fmt.Errorf("%s:%d: %s %s has two different hashes", name, i+1, path, f[1])
		}
		*slot = sum
	}
	mods := make([]Module, 0, len(byKey))
	for _, m := range byKey {
		mods = append(mods, *m)
	}
	sort.Slice(mods, func(i, j int) bool {
		if mods[i].Path != mods[j].Path {
			return mods[i].Path < mods[j].Path
		}
		return mods[i].Version < mods[j].Version
	})
	return mods, nil
}

// checkH1 accepts only go.sum's "h1:" hashes (base64 SHA-256): older or
// unknown hash kinds are refused rather than trusted.
func checkH1(sum string) error {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return fmt.Errorf("hash %q is not an h1: (SHA-256) hash", sum)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 32 {
		return fmt.Errorf("hash %q is not a valid h1: hash", sum)
	}
	return nil
}

// FetchAll downloads every module listed in mods into the module cache,
// checks each go.mod and zip against its go.sum hash and unpacks the zips,
// so that a build with GOPROXY=off finds them. Modules listed with only a
// go.mod hash get only their go.mod, as the go command needs no more.
func (c *Client) FetchAll(ctx context.Context, mods []Module) error {
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Without a go.mod line in go.sum, the go.mod is checked against
		// the checksum database alone.
		if _, err := c.GoMod(ctx, m.Path, m.Version, m.ModSum); err != nil {
			return err
		}
		if m.Sum == "" {
			continue
		}
		if _, err := c.Info(ctx, m.Path, m.Version); err != nil {
			return err
		}
		zip, sum, err := c.Zip(ctx, m.Path, m.Version, m.Sum)
		if err != nil {
			return err
		}
		if _, err := c.Extract(ctx, m.Path, m.Version, zip, sum); err != nil {
			return err
		}
	}
	return nil
}
