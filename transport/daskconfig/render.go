package daskconfig

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// EnvVar is one environment variable of a rendered configuration.
type EnvVar struct {
	Name  string // e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE
	Value string // as Dask reads it: True/False, 1.2, text or a Python string literal
}

// plainSafe matches strings that PyYAML reads back unchanged when written
// without quotes; everything else is double-quoted.
var plainSafe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_/.][A-Za-z0-9_/.:@+=~-]*$`) })

// renderable returns a field's value for rendering, and false when the
// field holds its zero value and is left out.
func renderable(c *Config, f field) (any, bool) {
	switch p := f.ptr(c).(type) {
	case *string:
		return *p, *p != ""
	case **bool:
		if *p == nil {
			return nil, false
		}
		return **p, true
	case *bool:
		return *p, *p
	case *float64:
		return *p, *p != 0
	case *time.Duration:
		return *p, *p != 0
	case *[]string:
		return *p, len(*p) > 0
	}
	panic(fmt.Sprintf("config field %s has an unsupported type", f.key))
}

// YAML renders the configuration as a Dask YAML file: booleans and numbers
// as YAML booleans and numbers (min-version: 1.2, not "1.2"), strings quoted
// only where PyYAML would otherwise read something else. Unset fields are
// left out; a Config with nothing set renders as {}. daskca's own keys go under the top-level daskca key, which Dask
// ignores.
func (c Config) YAML() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range fields {
		v, ok := renderable(&c, f)
		if !ok {
			continue
		}
		parts := strings.Split(f.key, ".")
		node := root
		for _, p := range parts[:len(parts)-1] {
			node = childMapping(node, p)
		}
		node.Content = append(node.Content, strNode(parts[len(parts)-1]), yamlScalar(v))
	}
	if len(root.Content) == 0 {
		return []byte("{}\n"), nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("rendering dask config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("rendering dask config: %w", err)
	}
	return buf.Bytes(), nil
}

func childMapping(parent *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(parent.Content); i += 2 {
		if parent.Content[i].Value == key {
			return parent.Content[i+1]
		}
	}
	child := &yaml.Node{Kind: yaml.MappingNode}
	parent.Content = append(parent.Content, strNode(key), child)
	return child
}

func strNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if _, isStr := resolvePlain(s).(string); !isStr || !plainSafe().MatchString(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

func yamlScalar(v any) *yaml.Node {
	switch v := v.(type) {
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: formatVersion(v)}
	case time.Duration:
		return strNode(v.String())
	case []string:
		seq := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range v {
			seq.Content = append(seq.Content, strNode(s))
		}
		return seq
	}
	return strNode(v.(string))
}

// formatVersion writes a float so that both YAML 1.1 and Python read a
// float back: always with a dot.
func formatVersion(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// EnvName returns the DASK_* variable for a dotted key:
// distributed.comm.tls.ca-file → DASK_DISTRIBUTED__COMM__TLS__CA_FILE.
func EnvName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(strings.ReplaceAll(key, "-", "_"), ".", "__"))
}

// Env renders the configuration as DASK_* variables, in a fixed order.
// Booleans are True/False and strings that Python would read as something
// else are written as Python string literals, so that Dask 2022.12 and
// later all read the same values.
func (c Config) Env() []EnvVar {
	var out []EnvVar
	for _, f := range fields {
		v, ok := renderable(&c, f)
		if !ok {
			continue
		}
		var s string
		switch v := v.(type) {
		case bool:
			s = map[bool]string{true: "True", false: "False"}[v]
		case float64:
			s = formatVersion(v)
		case time.Duration:
			s = pyText(v.String())
		case string:
			s = pyText(v)
		case []string:
			s = pyList(v)
		}
		out = append(out, EnvVar{Name: EnvName(f.key), Value: s})
	}
	return out
}

// EnvShell renders Env as POSIX shell lines, one
// `export NAME='value'` per variable.
func (c Config) EnvShell() string {
	var b strings.Builder
	for _, v := range c.Env() {
		fmt.Fprintf(&b, "export %s=%s\n", v.Name, ShellQuote(v.Value))
	}
	return b.String()
}

// ShellQuote quotes s for a POSIX shell with single quotes.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// pyText returns s as Dask must see it in a variable: bare when Python and
// Dask keep it as the same text, else a Python string literal.
func pyText(s string) string {
	if s != "" && !strings.ContainsAny(s[:1], "0123456789+-.'\"([{ \t\r\n") &&
		strings.TrimSpace(s) == s && !strings.ContainsAny(s, "'\"\\\n") {
		if v, ok := interpretEnvValue(s).(string); ok && v == s {
			return s
		}
	}
	return PyQuote(s)
}

// pyList writes a list of strings as a Python list literal, its items in
// double quotes so that the shell's single quotes need no escaping.
func pyList(list []string) string {
	items := make([]string, len(list))
	for i, s := range list {
		items[i] = pyQuote(s, '"')
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// PyQuote writes s as a single-quoted Python string literal, for snippets
// that Python evaluates. Bytes that
// are not UTF-8 are copied as they are.
func PyQuote(s string) string { return pyQuote(s, '\'') }

func pyQuote(s string, q byte) string {
	var b strings.Builder
	b.WriteByte(q)
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteByte(s[i])
		case r == '\\' || r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
