package recipes

import (
	"bytes"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// YAML renders the recipe as YAML in the format's field order, two-space
// indented, empty fields left out, each locked Debian package on one line.
// It does not validate: infer uses it to show an incomplete recipe too.
func (r *Recipe) YAML() ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(r); err != nil {
		return nil, fmt.Errorf("encode recipe: %w", err)
	}
	flowLock(&n)
	return encodeNode(&n)
}

func encodeNode(n *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("encode recipe: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode recipe: %w", err)
	}
	return b.Bytes(), nil
}

// child returns the value of key in a mapping node.
func child(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// flowLock writes each package of image.debian.lock on one line.
func flowLock(n *yaml.Node) {
	root := n
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	pkgs := child(child(child(child(root, "image"), "debian"), "lock"), "packages")
	if pkgs == nil {
		return
	}
	for _, p := range pkgs.Content {
		p.Style = yaml.FlowStyle
	}
}

// WithDebianLock returns the recipe text data with image.debian.lock set
// to l (replacing a lock it had), keeping the rest of the text, comments
// included, as the YAML encoder writes it.
func WithDebianLock(data []byte, l *DebianLock) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("write lock: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("write lock: the recipe is not one YAML document")
	}
	deb := child(child(doc.Content[0], "image"), "debian")
	if deb == nil || deb.Kind != yaml.MappingNode {
		return nil, errors.New("write lock: the recipe has no image.debian")
	}
	var ln yaml.Node
	if err := ln.Encode(l); err != nil {
		return nil, fmt.Errorf("write lock: %w", err)
	}
	for i := 0; i+1 < len(deb.Content); i += 2 {
		if deb.Content[i].Value == "lock" {
			deb.Content = append(deb.Content[:i], deb.Content[i+2:]...)
			break
		}
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "lock",
		HeadComment: "written by `reprove lock`: every package of the image, resolved from the suite's signed indexes"}
	deb.Content = append(deb.Content, key, &ln)
	flowLock(&doc)
	return encodeNode(&doc)
}
