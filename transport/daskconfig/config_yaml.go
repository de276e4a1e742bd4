package daskconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Dask reads its files with PyYAML's safe_load, which follows YAML 1.1: `yes`
// and `on` are booleans, `1e3` is a string (a float needs a dot), `0777` is
// octal and `1:30` is 90. yaml.v3 follows YAML 1.2, so this file walks the
// node tree itself and resolves plain scalars the way PyYAML does; a config
// file then means the same thing to the transport as to Dask.

var (
	pyNull  = map[string]bool{"": true, "~": true, "null": true, "Null": true, "NULL": true}
	pyBools = map[string]bool{
		"yes": true, "Yes": true, "YES": true, "true": true, "True": true, "TRUE": true, "on": true, "On": true, "ON": true,
		"no": false, "No": false, "NO": false, "false": false, "False": false, "FALSE": false, "off": false, "Off": false, "OFF": false,
	}
	pyInt = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	})
	pyFloat = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	})
)

// maxYAMLNodes bounds the nodes visited while expanding a document, so that
// aliases nested into a "billion laughs" cannot exhaust memory. Real Dask
// configuration files have a few hundred.
const maxYAMLNodes = 100000

// resolvePlain returns the value PyYAML gives an untagged plain scalar.
func resolvePlain(s string) any {
	if pyNull[s] {
		return nil
	}
	if b, ok := pyBools[s]; ok {
		return b
	}
	if pyInt().MatchString(s) {
		if v, ok := pyParseInt(s); ok {
			return v
		}
		return s
	}
	if pyFloat().MatchString(s) {
		return pyParseFloat(s)
	}
	return s
}

// pyParseInt converts text matching pyInt; ok is false when it overflows.
func pyParseInt(s string) (int64, bool) {
	s = strings.ReplaceAll(s, "_", "")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimLeft(s, "+-")
	var v int64
	var err error
	switch {
	case strings.Contains(s, ":"):
		v, err = sexagesimal(s)
	case strings.HasPrefix(s, "0b"):
		v, err = strconv.ParseInt(s[2:], 2, 64)
	case strings.HasPrefix(s, "0x"):
		v, err = strconv.ParseInt(s[2:], 16, 64)
	case len(s) > 1 && s[0] == '0':
		v, err = strconv.ParseInt(s[1:], 8, 64)
	default:
		v, err = strconv.ParseInt(s, 10, 64)
	}
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

func sexagesimal(s string) (int64, error) {
	var v int64
	for _, part := range strings.Split(s, ":") {
		d, err := strconv.ParseInt(part, 10, 64)
		if err != nil || v > math.MaxInt64/60 {
			return 0, errors.New("sexagesimal overflow")
		}
		v = v*60 + d
	}
	return v, nil
}

func pyParseFloat(s string) float64 {
	s = strings.ReplaceAll(strings.ToLower(s), "_", "")
	switch strings.TrimLeft(s, "+-") {
	case ".inf":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1)
		}
		return math.Inf(1)
	case ".nan":
		return math.NaN()
	}
	if strings.Contains(s, ":") {
		neg := strings.HasPrefix(s, "-")
		whole, frac, _ := strings.Cut(strings.TrimLeft(s, "+-"), ".")
		w, err := sexagesimal(whole)
		f, _ := strconv.ParseFloat("0."+frac, 64)
		v := float64(w) + f
		if err != nil {
			v = math.Inf(1)
		}
		if neg {
			v = -v
		}
		return v
	}
	v, _ := strconv.ParseFloat(s, 64) // the regexp admits only valid text; overflow gives ±Inf
	return v
}

// parseYAMLTree parses one YAML (or JSON) document into a config tree whose
// leaves remember src. An empty document gives an empty tree.
func parseYAMLTree(b []byte, src string) (map[string]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]any{}, nil
		}
		return nil, fmt.Errorf("%w: %s: malformed YAML: %v", ErrBadConfig, src, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: expected a single YAML document", ErrBadConfig, src)
	}
	w := &yamlWalker{src: src}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	v, err := w.value(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadConfig, src, err)
	}
	switch v := v.(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return leafify(v, src), nil
	default:
		return nil, fmt.Errorf("%w: %s: config files must have a mapping at the top level, got %s", ErrBadConfig, src, typeName(v))
	}
}

type yamlWalker struct {
	src   string
	nodes int
}

// value converts a node into nil, bool, int64, float64, string, []any or
// map[string]any.
func (w *yamlWalker) value(n *yaml.Node) (any, error) {
	if w.nodes++; w.nodes > maxYAMLNodes {
		return nil, fmt.Errorf("document expands to more than %d nodes", maxYAMLNodes)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: unknown alias", n.Line)
		}
		return w.value(n.Alias)
	case yaml.ScalarNode:
		return scalarValue(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := w.value(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return w.mapping(n)
	case yaml.DocumentNode:
		return nil, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %v", n.Line, n.Kind)
}

// mapping builds a map. Keys merged in with `<<` come first and the
// mapping's own keys override them, as in PyYAML; a repeated key takes the
// last value.
func (w *yamlWalker) mapping(n *yaml.Node) (map[string]any, error) {
	out := map[string]any{}
	var own [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style == 0 {
			if err := w.merge(out, v); err != nil {
				return nil, err
			}
			continue
		}
		own = append(own, [2]*yaml.Node{k, v})
	}
	for _, kv := range own {
		key, err := w.value(kv[0])
		if err != nil {
			return nil, err
		}
		switch key.(type) {
		case []any, map[string]any:
			return nil, fmt.Errorf("line %d: a mapping key must be a scalar", kv[0].Line)
		}
		val, err := w.value(kv[1])
		if err != nil {
			return nil, err
		}
		setKey(out, fmt.Sprint(keyText(key)), val)
	}
	return out, nil
}

func (w *yamlWalker) merge(out map[string]any, v *yaml.Node) error {
	src, err := w.value(v)
	if err != nil {
		return err
	}
	list, ok := src.([]any)
	if !ok {
		list = []any{src}
	}
	// Earlier mappings in a merge list win over later ones.
	for i := len(list) - 1; i >= 0; i-- {
		m, ok := list[i].(map[string]any)
		if !ok {
			return fmt.Errorf("line %d: '<<' merges mappings only, got %s", v.Line, typeName(list[i]))
		}
		for k, x := range m {
			out[k] = x
		}
	}
	return nil
}

func keyText(k any) any {
	if k == nil {
		return "None" // PyYAML gives a None key; Dask would see the same
	}
	if b, ok := k.(bool); ok {
		if b {
			return "True"
		}
		return "False"
	}
	return k
}

func scalarValue(n *yaml.Node) (any, error) {
	if n.Style&yaml.TaggedStyle != 0 {
		switch n.Tag {
		case "!!str":
			return n.Value, nil
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			v := resolvePlain(n.Value)
			if want := map[string]string{"!!bool": "bool", "!!int": "int", "!!float": "float"}[n.Tag]; typeName(v) == want ||
				want == "float" && typeName(v) == "int" {
				if i, ok := v.(int64); ok && want == "float" {
					return float64(i), nil
				}
				return v, nil
			}
			return nil, fmt.Errorf("line %d: %q is not a valid %s", n.Line, n.Value, n.Tag)
		default:
			return nil, fmt.Errorf("line %d: unsupported YAML tag %s", n.Line, n.Tag)
		}
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Value, nil
	}
	return resolvePlain(n.Value), nil
}

// typeName names a config value's type the way a Dask user would.
func typeName(v any) string {
	switch v := v.(type) {
	case pyOther:
		return v.kind
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return fmt.Sprintf("%T", v)
}
