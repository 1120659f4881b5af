package recipes

import (
	"bytes"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// YAML renders the recipe as YAML in the format's field order, two-space
// indented, empty fields left out. It does not validate: infer uses it to
// show an incomplete recipe too.
func (r *Recipe) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("encode recipe: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode recipe: %w", err)
	}
	return b.Bytes(), nil
}
